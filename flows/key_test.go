package flows_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"publishing-api", "publishing-api"},
		{strings.Repeat("a", 60), strings.Repeat("a", 60)},
		{strings.Repeat("a", 61), strings.Repeat("a", 60) + "… (61 characters)"},
		// Runes, not bytes: a cut never splits a character.
		{strings.Repeat("é", 60), strings.Repeat("é", 60)},
		{strings.Repeat("é", 3000), strings.Repeat("é", 60) + "… (3000 characters)"},
		{strings.Repeat("a", 59) + "\u202e\u202e", strings.Repeat("a", 59) + "\u202e… (61 characters)"},
	} {
		if got := flows.Clip(tc.in); got != tc.want {
			t.Errorf("Clip(%.20q…) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidateShapes(t *testing.T) {
	for _, s := range []string{"content-tagger@alphagov.co.uk", "signon+permissions@alphagov.co.uk"} {
		if err := flows.ValidateEmail(s); err != nil {
			t.Errorf("ValidateEmail(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "Content Tagger", "<content-tagger@alphagov.co.uk>", "a b@x.com", `"a"@x.com`, strings.Repeat("a", 250) + "@x.com"} {
		if err := flows.ValidateEmail(s); err == nil {
			t.Errorf("ValidateEmail(%.40q) accepted it", s)
		}
	}
	for _, s := range []string{"publishing-api", "whitehall-admin", "a1"} {
		if err := flows.ValidateApplication(s); err != nil {
			t.Errorf("ValidateApplication(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "Publishing API", "publishing api", "-publishing", "publishing--api", "a;b", strings.Repeat("a", 101)} {
		if err := flows.ValidateApplication(s); err == nil {
			t.Errorf("ValidateApplication(%.40q) accepted it", s)
		}
	}
}
