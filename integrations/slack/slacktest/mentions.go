package slacktest

import (
	"encoding/json"
	"regexp"
	"slices"
)

// Slack notifies the people a new message mentions: <@U…> (or
// <@U…|name>) notifies that user, <!subteam^S…> (or <!subteam^S…|@handle>)
// every member of that user group, each only if they are in the channel.
// It reads mentions in the message's text and in the mrkdwn text of its
// blocks, never in plain_text (a button's label), and it notifies nobody
// for an edit (chat.update) or an ephemeral message, however many
// mentions they carry: a bot that adds a ping by editing pings nobody.
var (
	userMention  = regexp.MustCompile(`<@([UW][A-Z0-9]+)(?:\|[^>]*)?>`)
	groupMention = regexp.MustCompile(`<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>`)
)

// notifiedLocked is whom a new message in ch notifies.
func (s *Server) notifiedLocked(ch *channel, m *message) []string {
	texts := append([]string{m.text}, mrkdwnTexts(m.blocks)...)
	var out []string
	add := func(u string) {
		if ch.members[u] && u != m.user && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	for _, t := range texts {
		for _, g := range userMention.FindAllStringSubmatch(t, -1) {
			add(g[1])
		}
		for _, g := range groupMention.FindAllStringSubmatch(t, -1) {
			for _, u := range s.groups[g[1]] {
				add(u)
			}
		}
	}
	return out
}

// mrkdwnTexts are the mrkdwn texts of a message's blocks.
func mrkdwnTexts(raw json.RawMessage) []string {
	var blocks []map[string]any
	if json.Unmarshal(raw, &blocks) != nil {
		return nil
	}
	var out []string
	take := func(v any) {
		if o, ok := v.(map[string]any); ok && o["type"] == "mrkdwn" {
			out = append(out, str(o["text"]))
		}
	}
	for _, b := range blocks {
		take(b["text"])
		fields, _ := b["fields"].([]any)
		for _, f := range fields {
			take(f)
		}
		if b["type"] == "context" {
			els, _ := b["elements"].([]any)
			for _, e := range els {
				take(e)
			}
		}
	}
	return out
}

// Notified lists whom a message notified when it was posted.
func (s *Server) Notified(channel, ts string) []string {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[channel]
	if !ok {
		return nil
	}
	if m, ok := ch.byTS[ts]; ok {
		return slices.Clone(m.notified)
	}
	return nil
}
