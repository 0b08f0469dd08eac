package commands

import "strings"

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape makes text from people or alerts safe to echo in mrkdwn: Slack
// reads <...> as a mention, a channel ping (<!channel>) or a link, and &
// starts an entity, so all three are escaped.
func Escape(s string) string { return escaper.Replace(s) }
