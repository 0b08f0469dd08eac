package flows

import (
	"strings"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// Untrusted makes text the bot did not write (a Kubernetes event, a log
// line, a live check's output, an error from Signon or the API server, a
// name someone chose) safe to put in a post: anything token-shaped is
// masked (token.Redact), and the mention marker Mention writes cannot be
// formed, so such text mentions nobody. The Slack side escapes <, > and &,
// so Slack's own <@U…>, <!channel> and links cannot be formed either.
func Untrusted(s string) string { return defuse(token.Redact(s)) }

// defuse breaks the mention marker: "@{U0X}" becomes "@ {U0X}", which
// reads the same and pings nobody.
func defuse(s string) string { return strings.ReplaceAll(s, "@{", "@ {") }

func untrustedLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = Untrusted(l)
	}
	return out
}

// redactText masks token-shaped runs in everything a run says, before it
// is stored: a second line of defence behind the integrations, which
// redact what they quote, for text that reached a post some other way.
// A step's note never mentions anyone, so it is made Untrusted whole.
func (r *Run) redactText() {
	r.Reason = token.Redact(r.Reason)
	for i := range r.Steps {
		r.Steps[i].Note = Untrusted(r.Steps[i].Note)
	}
	for i := range r.Posts {
		p := &r.Posts[i]
		p.Title = token.Redact(p.Title)
		for j := range p.Lines {
			p.Lines[j] = token.Redact(p.Lines[j])
		}
		for j := range p.Code {
			p.Code[j] = token.Redact(p.Code[j])
		}
	}
}
