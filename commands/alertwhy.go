package commands

import (
	"fmt"
	"strconv"
	"strings"
)

// WhyNoTokens says why ParseAlert reads no token in m: that m is not the
// alert (an edit, no attachment, another alert) or that the alert names
// none. It is "" when the alert names tokens. `bot parse-alert` prints
// it for an operator asking why the bot did not react.
func WhyNoTokens(m AlertMessage) string {
	if m.Subtype != "" && m.Subtype != "bot_message" {
		return fmt.Sprintf("not the alert: a message of subtype %s; only new messages are read, not edits", strconv.Quote(m.Subtype))
	}
	a := ParseAlert(m)
	if a.Name == "" {
		if len(m.Attachments) == 0 {
			return "not the alert: it has no attachments; Alertmanager's Slack notifier posts the alert as one, and text that only mentions " + AlertName + " is not the alert"
		}
		for _, at := range m.Attachments {
			if t := titlePattern.FindStringSubmatch(strings.TrimSpace(at.Title)); t != nil {
				return fmt.Sprintf("another alert: its title names %s, not %s", clip(t[2]), AlertName)
			}
			if fb := fallbackPattern.FindStringSubmatch(strings.TrimSpace(at.Fallback)); fb != nil {
				return fmt.Sprintf("another alert: its subject names %s, not %s", clip(fb[3]), AlertName)
			}
		}
		return "not the alert: no attachment's title or fallback reads as Alertmanager's (\"WARNING: " + AlertName + "\" or \"[FIRING:1] " + AlertName + " ...\")"
	}
	if len(a.Tokens) > 0 {
		return ""
	}
	if a.Count > 1 {
		return fmt.Sprintf("no labels found: the alert groups %d alerts, so its subject carries only their common labels, and it has no \"Expiring Tokens\" list; the bot asks Signon which tokens expire within expiryWindow", a.Count)
	}
	return "no labels found: neither an \"Expiring Tokens\" list (api_user: `...`, application: `...`) nor api_user and application values in its subject; the bot asks Signon which tokens expire within expiryWindow"
}

func clip(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(strings.TrimSpace(s))
}
