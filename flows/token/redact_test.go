package token_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows/token"
)

func TestRedactMasksTokenRunsAndKeepsNames(t *testing.T) {
	tok := token.Generate().Reveal()
	legacy := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct{ in, want string }{
		{"Bearer " + tok, "Bearer [redacted]"},
		{"bearer-" + tok, "[redacted]"},
		{"X_" + tok, "[redacted]"},
		{tok + "-x", "[redacted]"},
		{"cut " + tok[:32] + ".", "cut [redacted]."},
		{"legacy " + legacy, "legacy [redacted]"},
		{"legacy-" + legacy, "[redacted]"},
		// Names the bot prints itself survive, however long.
		{"Secret signon-token-content-tagger-email-alert-api", "Secret signon-token-content-tagger-email-alert-api"},
		{"Job signon-sync-token-secrets-to-k8s-manual-x7k2p", "Job signon-sync-token-secrets-to-k8s-manual-x7k2p"},
		// 31 characters is not a token's worth.
		{"short " + tok[:31], "short " + tok[:31]},
	} {
		if got := token.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

var tokenRun = regexp.MustCompile(`[A-Za-z0-9_-]{32,}`)

// FuzzRedact holds Redact to its rule: what it leaves has no run of 32
// token characters but Kubernetes names, so no token, whatever surrounds
// it, and redacting again changes nothing.
func FuzzRedact(f *testing.F) {
	tok := token.Generate().Reveal()
	for _, s := range []string{"Bearer " + tok, "bearer-" + tok, "X_" + tok, tok + "-x", strings.Repeat("ab12", 16), "signon-token-content-tagger-email-alert-api"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := token.Redact(s)
		for _, run := range tokenRun.FindAllString(out, -1) {
			if strings.ContainsAny(run, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") {
				t.Fatalf("Redact(%q) left %q", s, run)
			}
			for _, part := range strings.Split(run, "-") {
				if len(part) >= token.MinRedacted {
					t.Fatalf("Redact(%q) left %q", s, run)
				}
			}
		}
		if token.Redact(out) != out {
			t.Fatalf("Redact is not idempotent on %q", s)
		}
		if token.Pattern.MatchString(out) && strings.ContainsAny(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") {
			for _, m := range token.Pattern.FindAllStringSubmatch(out, -1) {
				if strings.ContainsAny(m[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") {
					t.Fatalf("Redact(%q) left a token-shaped %q", s, m[1])
				}
			}
		}
	})
}
