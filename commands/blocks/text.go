// Package blocks renders the flows' runs and offers as Slack Block Kit
// messages. It is pure: the same run renders to the same blocks, which the
// golden files pin down and the notifier's digests rely on.
package blocks

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
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

var (
	mention      = regexp.MustCompile(`@\{([UW][A-Z0-9]{2,20})\}`)
	groupMention = regexp.MustCompile(`@\{(S[A-Z0-9]{2,20})\}`)
	when         = regexp.MustCompile(`@\{t(\d{1,12})\}`)
)

// Text escapes a flows text line and turns its mentions and times
// (flows.Mention, flows.When) into Slack's.
func Text(s string) string {
	s = mentions(Escape(s))
	return when.ReplaceAllStringFunc(s, func(m string) string { return Date(unixOf(m)) })
}

// Plain is Text without code marks or date markup, for a message's
// notification text.
func Plain(s string) string {
	s = mentions(Escape(s))
	s = when.ReplaceAllStringFunc(s, func(m string) string { return flows.Date(unixOf(m)) })
	return strings.ReplaceAll(s, "`", "")
}

// mentions turns the flows' mention markers into Slack's: a user's
// <@U…>, and a user group's <!subteam^S…>, which notifies its members.
func mentions(s string) string {
	return groupMention.ReplaceAllString(mention.ReplaceAllString(s, "<@$1>"), "<!subteam^$1>")
}

// Date shows a time in each reader's own time zone, using Slack's date
// formatting, with the UTC time as the fallback text.
func Date(t time.Time) string {
	if t.IsZero() {
		return flows.Date(t)
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), flows.Date(t))
}

func unixOf(marker string) time.Time {
	n, _ := strconv.ParseInt(when.FindStringSubmatch(marker)[1], 10, 64)
	return time.Unix(n, 0)
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

// who names the actor of a run or a gate: a mention of a person, or the
// autopilot policy, which is no Slack user.
func who(user string) string {
	if _, ok := flows.PolicyEnvironment(user); ok {
		return Escape(flows.Mention(user))
	}
	return "<@" + user + ">"
}
