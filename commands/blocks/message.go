package blocks

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"
)

// Message is a rendered message: blocks and the notification text Slack
// shows where blocks cannot be (push notifications, search).
type Message struct {
	Text   string
	Blocks []slack.Block
}

// Renderer renders with links into one workspace.
type Renderer struct {
	// WorkspaceURL is auth.test's url ("https://example.slack.com/"); with
	// it, messages link to threads without asking Slack for permalinks.
	WorkspaceURL string
	// Links are what a run's status message links to (links.go).
	Links Links
}

// Link returns a link to a message (in a thread, when threadTS is set),
// or "" without a workspace URL.
func (r Renderer) Link(channel, ts, threadTS string) string {
	if r.WorkspaceURL == "" || channel == "" || ts == "" {
		return ""
	}
	u := fmt.Sprintf("%sarchives/%s/p%s", ensureSlash(r.WorkspaceURL), channel, strings.ReplaceAll(ts, ".", ""))
	if threadTS != "" && threadTS != ts {
		u += "?thread_ts=" + threadTS + "&cid=" + channel
	}
	return u
}

func ensureSlash(s string) string {
	if strings.HasSuffix(s, "/") {
		return s
	}
	return s + "/"
}

// Block Kit limits that the renderers stay within.
const (
	maxSectionText = 3000
	maxBlocks      = 50
	maxButtonText  = 75
	maxContextText = 2000
	// MaxBlocks is Block Kit's limit of blocks in a message.
	MaxBlocks = maxBlocks
	// maxNotificationText keeps a message's fallback text short: it is
	// what a push notification shows.
	maxNotificationText = 300
)

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, truncate(s, maxSectionText), false, false)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func section(s string) slack.Block {
	return slack.NewSectionBlock(mrkdwn(s), nil, nil)
}

func context(s string) slack.Block {
	return slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, truncate(s, maxContextText), false, false))
}

// codeBlock shows lines verbatim. Inside a code block Slack still reads
// &, < and >, so they are escaped too; the tail is kept when it is long,
// since the end of a log explains a failure.
func codeBlock(lines []string) slack.Block {
	body := Escape(strings.Join(lines, "\n"))
	limit := maxSectionText - 8
	if r := []rune(body); len(r) > limit {
		body = "…" + string(r[len(r)-limit+1:])
	}
	return section("```" + body + "```")
}

func button(actionID, value, label string, style slack.Style, confirm *slack.ConfirmationBlockObject) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, value, plain(truncate(label, maxButtonText)))
	if style != "" {
		b = b.WithStyle(style)
	}
	if confirm != nil {
		b = b.WithConfirm(confirm)
	}
	return b
}

func confirmation(title, text, yes string) *slack.ConfirmationBlockObject {
	return slack.NewConfirmationBlockObject(plain(title), mrkdwn(text), plain(yes), plain("Go back")).WithStyle(slack.StyleDanger)
}
