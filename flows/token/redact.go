package token

import (
	"regexp"
	"strings"
)

// MinRedacted is the shortest run of token characters Redact masks: most
// of a current token (43 characters) or of a legacy one (64 hex digits),
// so a token cut short, or glued to a prefix or suffix ("bearer-<token>",
// "X_<token>", "<token>-x"), is masked too.
const MinRedacted = 32

// Masked replaces what Redact hides.
const Masked = "[redacted]"

var tokenRun = regexp.MustCompile(`[A-Za-z0-9_-]{32,}`)

// Redact masks every run of MinRedacted or more token characters
// ([A-Za-z0-9_-]) in s, except a run that reads as a Kubernetes name: lower
// case letters, digits and hyphens with no stretch of MinRedacted or more
// between hyphens (signon-token-content-tagger-email-alert-api is 43
// characters, and the thread must still name that Secret). A random token
// has no upper-case letter and no underscore in 43 characters about once in
// 10^10, and a legacy token is one 64-digit stretch, so both are masked.
//
// It is the one redaction rule: the Kubernetes and Signon integrations
// apply it to what they quote, the Slack renderer to every text it
// escapes, the logger to every attribute, and the store to a run's text
// before it is written.
func Redact(s string) string {
	return tokenRun.ReplaceAllStringFunc(s, func(run string) string {
		if kubernetesName(run) {
			return run
		}
		return Masked
	})
}

func kubernetesName(run string) bool {
	for _, part := range strings.Split(run, "-") {
		if len(part) >= MinRedacted {
			return false
		}
		for _, r := range part {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
				return false
			}
		}
	}
	return true
}
