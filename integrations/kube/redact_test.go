package kube

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows/token"
)

func TestRedactHidesTokensAndKeepsNames(t *testing.T) {
	tok := token.Generate().Reveal()
	legacy := strings.Repeat("0123456789abcdef", 4)
	// Exactly 43 characters, as some Secret names are.
	name := "signon-token-support-api-publishing-api-abc"
	if len(name) != 43 {
		t.Fatalf("name is %d characters", len(name))
	}
	for _, tc := range []struct{ in, want string }{
		{`{"message":"` + name + `"}`, `{"message":"` + name + `"}`},
		{"Authorization: Bearer " + tok, "Authorization: Bearer [redacted]"},
		{"token=" + tok + "&x=1", "token=[redacted]&x=1"},
		{"old token " + legacy + ".", "old token [redacted]."},
		// Glued to a prefix or suffix, or cut short, a token is still one.
		{"a longer run " + tok + "xyz", "a longer run [redacted]"},
		{"auth bearer-" + tok, "auth [redacted]"},
		{"X_" + tok + " set", "[redacted] set"},
		{tok + "-x", "[redacted]"},
		{"cut " + tok[:32], "cut [redacted]"},
		{"event for @{U0EVIL} and <@U0EVIL>", "event for @ {U0EVIL} and <@U0EVIL>"},
	} {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
