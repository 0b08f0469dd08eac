package flows

import (
	"fmt"
	"strings"
	"time"
)

// Mention marks a Slack user in a post's text; the renderer turns it into
// a mention. Everything else in a post is escaped.
func Mention(user string) string {
	if env, ok := PolicyEnvironment(user); ok {
		return "the autopilot policy of " + defuse(env)
	}
	return "@{" + user + "}"
}

// Code marks text as code in a post. What it marks is often a name from
// the cluster (an environment variable's, which may hold any printable
// character), so it cannot carry a mention either.
func Code(s string) string { return "`" + defuse(strings.ReplaceAll(s, "`", "'")) + "`" }

// Date is how dates are written in posts.
func Date(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// When marks a time in a post; the renderer shows it in each reader's
// own time zone, with Date's words as the fallback. Untrusted text cannot
// carry one: defuse breaks the marker as it breaks a mention's.
func When(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("@{t%d}", t.Unix())
}

// Elapsed is how durations are written in posts.
func Elapsed(d time.Duration) string {
	switch {
	case d < time.Second:
		return "under a second"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// Count writes n of a noun, in the plural unless n is 1: "1 consumer",
// "2 consumers". Posts never say "consumer(s)".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// describeToken is one line about a token: id, dates, fingerprint.
func describeToken(t Token) string {
	s := fmt.Sprintf("token #%d, created %s, expires %s, fingerprint %s", t.ID, When(t.CreatedAt), When(t.ExpiresAt), Code(t.Fingerprint.Short()))
	if t.Revoked() {
		s += ", revoked " + When(t.RevokedAt)
	}
	return s
}

func describeConsumer(c Consumer) string {
	kind := "deploy"
	if c.Kind == "CronJob" {
		kind = "cronjob"
	}
	if c.Via == "envFrom" {
		return fmt.Sprintf("%s/%s (container %s, all keys via envFrom)", kind, c.Name, c.Container)
	}
	return fmt.Sprintf("%s/%s (container %s, %s)", kind, c.Name, c.Container, Code(c.Variable))
}
