package kube

import "regexp"

// Runs of token characters as long as a Signon token (43, url-safe
// base64) or a legacy one (64 hex digits), not inside a longer run.
var tokenLike = regexp.MustCompile(`[A-Za-z0-9_-]+`)

// redact hides anything in a line from a pod's log or output that could be
// a token, so that no log tail carries one into Slack. Secret and
// Deployment names are lower case without underscores and are left alone;
// a random 43-character token all in lower case is a one in billions
// chance.
func redact(line string) string {
	return tokenLike.ReplaceAllStringFunc(line, func(run string) string {
		switch {
		case len(run) == 43 && hasUpperOrUnderscore(run):
			return "[redacted]"
		case len(run) == 64 && isLowerHex(run):
			return "[redacted]"
		}
		return run
	})
}

func hasUpperOrUnderscore(s string) bool {
	for _, r := range s {
		if r == '_' || (r >= 'A' && r <= 'Z') {
			return true
		}
	}
	return false
}

func isLowerHex(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
