package slacktest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/slack-go/slack"
)

// Message is a message as a person sees it: the latest edit, by whom.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string // the root's ts for a reply
	User     string // the author's user id ("" for a webhook)
	BotID    string
	Author   string // the name shown
	Text     string
	// BlocksJSON is the message's blocks as last posted or edited.
	BlocksJSON  json.RawMessage
	Attachments []slack.Attachment
	// VisibleTo is the only user who sees an ephemeral message.
	VisibleTo string
	Edited    bool
	// Deleted is only ever true for a root whose replies still show.
	Deleted bool
	Replies int
}

// Button is a button in a message.
type Button struct {
	Text, ActionID, Value, Style string
}

// Buttons lists the message's buttons in order.
func (m Message) Buttons() []Button {
	var blocks []map[string]any
	if json.Unmarshal(m.BlocksJSON, &blocks) != nil {
		return nil
	}
	var out []Button
	for _, b := range blocks {
		for _, el := range blockElements(b) {
			if el["type"] == "button" {
				out = append(out, Button{Text: textOf(el["text"]), ActionID: str(el["action_id"]), Value: str(el["value"]), Style: str(el["style"])})
			}
		}
	}
	return out
}

// Button finds a button by its text.
func (m Message) Button(text string) (Button, bool) {
	for _, b := range m.Buttons() {
		if b.Text == text {
			return b, true
		}
	}
	return Button{}, false
}

func blockElements(b map[string]any) []map[string]any {
	var els []any
	switch b["type"] {
	case "actions":
		els, _ = b["elements"].([]any)
	case "section":
		if acc, ok := b["accessory"]; ok {
			els = []any{acc}
		}
	}
	var out []map[string]any
	for _, e := range els {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// visibleLocked reports whether viewer sees m; viewer "" sees only what
// everyone sees.
func visibleLocked(m *message, viewer string) bool {
	if m.visibleTo != "" && m.visibleTo != viewer {
		return false
	}
	return !m.deleted || len(m.replies) > 0
}

func (s *Server) readLocked(m *message) Message {
	out := Message{
		Channel: m.channel, TS: m.ts, ThreadTS: m.threadTS, User: m.user, BotID: m.botID,
		Author: s.displayNameLocked(m), Text: m.text, BlocksJSON: m.blocks, VisibleTo: m.visibleTo,
		Edited: m.edited, Deleted: m.deleted, Replies: len(m.replies),
	}
	if len(m.attach) > 0 {
		_ = json.Unmarshal(m.attach, &out.Attachments)
	}
	return out
}

// Message returns one message as the viewer sees it.
func (s *Server) Message(channel, ts, viewer string) (Message, bool) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[channel]
	if !ok {
		return Message{}, false
	}
	m, ok := ch.byTS[ts]
	if !ok || !visibleLocked(m, viewer) {
		return Message{}, false
	}
	return s.readLocked(m), true
}

// History lists a channel's top-level messages, oldest first, as the
// viewer sees them.
func (s *Server) History(channel, viewer string) []Message {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[channel]
	if !ok {
		return nil
	}
	var out []Message
	for _, m := range ch.roots {
		if visibleLocked(m, viewer) {
			out = append(out, s.readLocked(m))
		}
	}
	return out
}

// Thread lists a thread, the root first and then the replies in order, as
// the viewer sees it. ts may name the root or any reply.
func (s *Server) Thread(channel, ts, viewer string) []Message {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	root := s.rootLocked(channel, ts)
	if root == nil {
		return nil
	}
	var out []Message
	for _, m := range append([]*message{root}, root.replies...) {
		if visibleLocked(m, viewer) {
			out = append(out, s.readLocked(m))
		}
	}
	return out
}

func (s *Server) rootLocked(channel, ts string) *message {
	ch, ok := s.channels[channel]
	if !ok {
		return nil
	}
	m, ok := ch.byTS[ts]
	if !ok {
		return nil
	}
	if m.threadTS != "" {
		return ch.byTS[m.threadTS]
	}
	return m
}

// Transcript renders a thread as plain text, everything anyone can see,
// each ephemeral message labelled with the one person who sees it:
//
//	Prometheus Alertmanager: :warning: WARNING: SignonApiUserTokenExpirySoon
//	  > signon-token-bot: Token of alice@example.com for publishing-api
//	    [Rotate] [Ignore]
func (s *Server) Transcript(channel, ts string) string {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	root := s.rootLocked(channel, ts)
	if root == nil {
		return fmt.Sprintf("(no thread %s in %s)\n", ts, channel)
	}
	var b strings.Builder
	for i, m := range append([]*message{root}, root.replies...) {
		if m.deleted && (i > 0 || len(m.replies) == 0) {
			continue
		}
		indent, cont := "", "  "
		if i > 0 {
			indent, cont = "  > ", "    "
		}
		head := s.displayNameLocked(m)
		if m.visibleTo != "" {
			head += " (only visible to " + s.userNameLocked(m.visibleTo) + ")"
		}
		if m.edited {
			head += " (edited)"
		}
		lines := renderLines(m)
		if m.deleted {
			lines = []string{"(message deleted)"}
		}
		if len(lines) == 0 {
			lines = []string{""}
		}
		fmt.Fprintf(&b, "%s%s: %s\n", indent, head, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "%s%s\n", cont, l)
		}
	}
	return b.String()
}

func (s *Server) userNameLocked(id string) string {
	if u, ok := s.users[id]; ok {
		return u.Name
	}
	return id
}

// renderLines is what a person reads in a message: its blocks if it has
// any (text is then only the notification fallback), else its text, then
// its attachments.
func renderLines(m *message) []string {
	var lines []string
	var blocks []map[string]any
	if json.Unmarshal(m.blocks, &blocks) == nil && len(blocks) > 0 {
		for _, b := range blocks {
			lines = append(lines, renderBlock(b)...)
		}
	} else if m.text != "" {
		lines = append(lines, strings.Split(m.text, "\n")...)
	}
	var attachments []map[string]any
	if json.Unmarshal(m.attach, &attachments) == nil {
		for _, a := range attachments {
			lines = append(lines, renderAttachment(a)...)
		}
	}
	return lines
}

func renderBlock(b map[string]any) []string {
	switch b["type"] {
	case "header":
		return []string{"# " + textOf(b["text"])}
	case "section":
		var lines []string
		if t := textOf(b["text"]); t != "" {
			lines = append(lines, strings.Split(t, "\n")...)
		}
		fields, _ := b["fields"].([]any)
		for _, f := range fields {
			lines = append(lines, strings.Split(textOf(f), "\n")...)
		}
		if els := renderElements(blockElements(b)); els != "" {
			lines = append(lines, els)
		}
		return lines
	case "context":
		els, _ := b["elements"].([]any)
		var parts []string
		for _, e := range els {
			m, _ := e.(map[string]any)
			if m["type"] == "image" {
				parts = append(parts, "[image: "+str(m["alt_text"])+"]")
				continue
			}
			parts = append(parts, textOf(e))
		}
		return strings.Split(strings.Join(parts, " · "), "\n")
	case "actions":
		return []string{renderElements(blockElements(b))}
	case "divider":
		return []string{"---"}
	case "image":
		return []string{"[image: " + str(b["alt_text"]) + "]"}
	case "input":
		return []string{textOf(b["label"]) + ": [input]"}
	case "markdown":
		return strings.Split(str(b["text"]), "\n")
	default:
		return []string{fmt.Sprintf("[%v block]", b["type"])}
	}
}

func renderElements(els []map[string]any) string {
	var parts []string
	for _, e := range els {
		switch e["type"] {
		case "button":
			parts = append(parts, "["+textOf(e["text"])+"]")
		default:
			label := textOf(e["placeholder"])
			if label == "" {
				label = str(e["type"])
			}
			parts = append(parts, "[select: "+label+"]")
		}
	}
	return strings.Join(parts, " ")
}

func renderAttachment(a map[string]any) []string {
	var lines []string
	for _, k := range []string{"pretext", "title", "text"} {
		if v := strings.TrimSpace(str(a[k])); v != "" {
			lines = append(lines, strings.Split(v, "\n")...)
		}
	}
	fields, _ := a["fields"].([]any)
	for _, f := range fields {
		fm, _ := f.(map[string]any)
		lines = append(lines, str(fm["title"])+": "+str(fm["value"]))
	}
	if len(lines) == 0 {
		lines = append(lines, str(a["fallback"]))
	}
	return lines
}

func textOf(v any) string {
	m, _ := v.(map[string]any)
	if m["type"] == "mrkdwn" {
		return showDates(str(m["text"]))
	}
	return str(m["text"])
}
