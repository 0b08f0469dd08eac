package slacktest

import (
	"regexp"
	"strings"
)

// Slack's date formatting in mrkdwn: <!date^UNIX^FORMAT|FALLBACK>, or
// <!date^UNIX^FORMAT^LINK|FALLBACK>. Each client shows the time in its
// reader's time zone; the fallback is what a client that cannot format it
// shows, and what this server shows in transcripts. Plain text is not
// parsed, so a date there would show as typed.
var (
	dateToken = regexp.MustCompile(`<!date\^(\d{1,12})\^([^|^>]*\{[a-z_]+\}[^|^>]*)(?:\^(https?://[^|>]+))?\|([^|<>]+)>`)
	dateStart = regexp.MustCompile(`<!date\b`)
)

// checkDates reports a malformed date token in mrkdwn, or one in plain
// text, where Slack would show the markup as typed: the bot meant a date.
func (c *blockCheck) checkDates(t, typ, ptr string) {
	n := len(dateStart.FindAllStringIndex(t, -1))
	if n == 0 {
		return
	}
	if typ != "mrkdwn" {
		c.addf(ptr, "date formatting (<!date^...>) is only read in mrkdwn, not %s", typ)
		return
	}
	if len(dateToken.FindAllStringIndex(t, -1)) != n {
		c.addf(ptr, "malformed date token: want <!date^unix_timestamp^token_string|fallback_text>")
	}
}

// showDates replaces each date token by its fallback text.
func showDates(s string) string {
	if !strings.Contains(s, "<!date") {
		return s
	}
	return dateToken.ReplaceAllString(s, "$4")
}
