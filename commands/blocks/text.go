// Package blocks renders the flows' runs and offers as Slack Block Kit
// messages. It is pure: the same run renders to the same blocks, which the
// golden files pin down and the notifier's digests rely on.
package blocks

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// Escape makes text safe to echo in mrkdwn: &, < and > are the only
// characters Slack treats as control sequences, so "<!channel>" or
// "<https://evil|docs>" in user or alert text shows as typed and pings or
// links nothing. Slack reads them inside code spans and blocks too, so
// they are escaped there as well. Every text on its way to Slack passes
// here, so here is where token.Redact's rule is applied on that path.
func Escape(s string) string {
	return escaper.Replace(token.Redact(s))
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

var mention = regexp.MustCompile(`@\{([UW][A-Z0-9]{2,20})\}`)

// Text escapes a flows text line and turns its mentions into Slack ones.
func Text(s string) string {
	return mention.ReplaceAllString(Escape(s), "<@$1>")
}

// Plain is Text without code marks, for a message's notification text.
func Plain(s string) string {
	return strings.ReplaceAll(Text(s), "`", "")
}

// truncate keeps s within n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// LinkTo is a mrkdwn link to address labelled label, or "" when address is
// not a plain http(s) URL: a link is made from configuration, and a
// character such as | or > in it would change what Slack shows.
func LinkTo(address, label string) string {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(address, "|<> \n\t") {
		return ""
	}
	return "<" + strings.ReplaceAll(address, "&", "&amp;") + "|" + Escape(label) + ">"
}
