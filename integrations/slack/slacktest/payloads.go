package slacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/slack-go/slack"
)

// Delivery is an envelope sent to the app: what a test waits on.
type Delivery struct {
	s *Server
	e *envelope

	EnvelopeID string
	// EventID is set for events_api envelopes.
	EventID string
	// TriggerID and ResponseURL are set for interactive and slash
	// envelopes: Slack gives each its own.
	TriggerID   string
	ResponseURL string
}

// WaitAck waits for the app to acknowledge the envelope.
func (d *Delivery) WaitAck(ctx context.Context) (Ack, error) {
	var ack Ack
	err := d.s.wait(ctx, func() bool {
		ack = d.e.ack
		return d.e.acked
	})
	if err != nil {
		return Ack{}, fmt.Errorf("waiting for the ack of envelope %s (%s): %w", d.EnvelopeID, d.e.typ, err)
	}
	return ack, nil
}

// Acked reports whether the envelope has been acknowledged.
func (d *Delivery) Acked() bool {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	return d.e.acked
}

// WaitResponses waits until the app has posted at least n times to the
// envelope's response_url, and returns the posts.
func (d *Delivery) WaitResponses(ctx context.Context, n int) ([]Response, error) {
	var out []Response
	err := d.s.wait(ctx, func() bool {
		out = append(out[:0], d.e.responses...)
		return len(out) >= n
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d posts to the response_url of envelope %s (have %d): %w", n, d.EnvelopeID, len(out), err)
	}
	return out, nil
}

// Responses returns the posts to the envelope's response_url so far.
func (d *Delivery) Responses() []Response {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	return append([]Response(nil), d.e.responses...)
}

// Redeliver sends the same envelope again, as Slack retries one it thinks
// was not acknowledged, and returns the new delivery.
func (d *Delivery) Redeliver() *Delivery {
	s := d.s
	s.mu.Lock()
	e := &envelope{
		id: s.newIDLocked("env-"), typ: d.e.typ, payload: d.e.payload, accepts: d.e.accepts,
		attempt: d.e.attempt + 1, retryReason: "timeout",
	}
	s.enqueueLocked(e)
	nd := &Delivery{s: s, e: e, EnvelopeID: e.id, EventID: d.EventID, TriggerID: d.TriggerID, ResponseURL: d.ResponseURL}
	if ru, ok := s.responses[responseID(d.ResponseURL)]; ok {
		ru.envelope, e.reply = e, ru
	}
	s.mu.Unlock()
	s.dispatch()
	return nd
}

// MessageEvent is a message as the Events API delivers it. It unmarshals
// from a message event's JSON, such as ../shared/data's example alert.
type MessageEvent struct {
	Type        string `json:"type"`
	Subtype     string `json:"subtype,omitempty"`
	Channel     string `json:"channel"`
	ChannelType string `json:"channel_type,omitempty"`
	User        string `json:"user,omitempty"`
	BotID       string `json:"bot_id,omitempty"`
	// AppID is the posting app's; Slack repeats it in bot_profile, which
	// SendMessage fills in.
	AppID       string             `json:"app_id,omitempty"`
	BotProfile  *slack.BotProfile  `json:"bot_profile,omitempty"`
	Username    string             `json:"username,omitempty"`
	Text        string             `json:"text"`
	TS          string             `json:"ts,omitempty"`
	ThreadTS    string             `json:"thread_ts,omitempty"`
	EventTS     string             `json:"event_ts,omitempty"`
	Icons       map[string]string  `json:"icons,omitempty"`
	Attachments []slack.Attachment `json:"attachments,omitempty"`
}

// AlertmanagerBotID is the bot id of the webhook AlertmanagerMessage
// posts through.
const AlertmanagerBotID = "B0ALERTMANAGER"

// AlertmanagerMessage is a message as Alertmanager's Slack notifier posts
// it through a webhook: a bot_message with legacy attachments.
func AlertmanagerMessage(channel string, attachments ...slack.Attachment) MessageEvent {
	return MessageEvent{
		Type: "message", Subtype: "bot_message", Channel: channel, ChannelType: "channel",
		Username: "Prometheus Alertmanager", BotID: AlertmanagerBotID, Attachments: attachments,
	}
}

// UserMessage is a person's message in a channel.
func UserMessage(channel, user, text string) MessageEvent {
	return MessageEvent{Type: "message", Channel: channel, ChannelType: "channel", User: user, Text: text}
}

// SendMessage posts m in its channel (giving it a ts unless it has one)
// and delivers the message event. A ThreadTS makes it a reply.
func (s *Server) SendMessage(m MessageEvent) *Delivery {
	s.init()
	s.mu.Lock()
	ch, ok := s.channels[m.Channel]
	if !ok {
		s.mu.Unlock()
		s.misuse("SendMessage: unknown channel %q", m.Channel)
		return nil
	}
	if m.TS != "" {
		if _, dup := ch.byTS[m.TS]; dup {
			s.mu.Unlock()
			s.misuse("SendMessage: channel %s has a message %s already", m.Channel, m.TS)
			return nil
		}
	}
	if m.ThreadTS != "" {
		if _, ok := ch.byTS[m.ThreadTS]; !ok {
			s.mu.Unlock()
			s.misuse("SendMessage: no message %s to reply to", m.ThreadTS)
			return nil
		}
	}
	if m.Type == "" {
		m.Type = "message"
	}
	if m.AppID != "" && m.BotProfile == nil {
		m.BotProfile = &slack.BotProfile{ID: m.BotID, AppID: m.AppID, TeamID: s.TeamID}
	}
	attach, _ := json.Marshal(m.Attachments)
	if len(m.Attachments) == 0 {
		attach = nil
	}
	stored := &message{ts: m.TS, threadTS: m.ThreadTS, user: m.User, username: m.Username, botID: m.BotID,
		subtype: m.Subtype, text: m.Text, attach: attach}
	s.storeLocked(ch, stored)
	m.TS = stored.ts
	if m.EventTS == "" {
		m.EventTS = m.TS
	}
	e := s.eventEnvelopeLocked(m)
	s.enqueueLocked(e)
	d := s.deliveryLocked(e)
	s.mu.Unlock()
	s.dispatch()
	return d
}

// SendEvent delivers any Events API event (the inner "event" object).
func (s *Server) SendEvent(event any) *Delivery {
	s.init()
	s.mu.Lock()
	e := s.eventEnvelopeLocked(event)
	s.enqueueLocked(e)
	d := s.deliveryLocked(e)
	s.mu.Unlock()
	s.dispatch()
	return d
}

// echoEventLocked is the message event Slack sends an app for a message
// the app itself posted.
func (s *Server) echoEventLocked(m *message) map[string]any {
	ev := s.messageJSONLocked(m)
	ev["channel"] = m.channel
	ev["channel_type"] = "channel"
	ev["event_ts"] = m.ts
	return ev
}

func (s *Server) eventEnvelopeLocked(event any) *envelope {
	eventID := s.newIDLocked("Ev")
	payload, err := json.Marshal(map[string]any{
		"token": "slacktest-verification", "team_id": s.TeamID, "api_app_id": s.AppID, "event": event,
		"type": "event_callback", "event_id": eventID, "event_time": s.now().Unix(),
		"authorizations":        []map[string]any{{"team_id": s.TeamID, "user_id": s.BotUserID, "is_bot": true}},
		"is_ext_shared_channel": false, "event_context": "slacktest-" + eventID,
	})
	if err != nil {
		panic(fmt.Sprintf("slacktest: marshal event: %v", err))
	}
	return &envelope{id: s.newIDLocked("env-"), typ: "events_api", payload: payload}
}

func (s *Server) deliveryLocked(e *envelope) *Delivery {
	d := &Delivery{s: s, e: e, EnvelopeID: e.id}
	var p struct {
		EventID     string `json:"event_id"`
		TriggerID   string `json:"trigger_id"`
		ResponseURL string `json:"response_url"`
	}
	_ = json.Unmarshal(e.payload, &p)
	d.EventID, d.TriggerID, d.ResponseURL = p.EventID, p.TriggerID, p.ResponseURL
	return d
}

// SlashCommand is a person typing a slash command.
type SlashCommand struct {
	Command string // "/rotate-token"
	Text    string
	User    string
	Channel string
}

// SendSlashCommand delivers a slash_commands envelope with a fresh
// trigger_id and response_url.
func (s *Server) SendSlashCommand(c SlashCommand) *Delivery {
	s.init()
	s.mu.Lock()
	u, ch, err := s.userAndChannelLocked(c.User, c.Channel)
	if err == nil && !strings.HasPrefix(c.Command, "/") {
		err = fmt.Errorf("command %q does not start with /", c.Command)
	}
	if err != nil {
		s.mu.Unlock()
		s.misuse("SendSlashCommand: %v", err)
		return nil
	}
	e := &envelope{id: s.newIDLocked("env-"), typ: "slash_commands", accepts: true}
	ru := s.newResponseURLLocked(e, ch.id, "", "", u.ID)
	payload, _ := json.Marshal(map[string]any{
		"token": "slacktest-verification", "team_id": s.TeamID, "team_domain": "slacktest",
		"channel_id": ch.id, "channel_name": ch.name, "user_id": u.ID, "user_name": u.Name,
		"command": c.Command, "text": c.Text, "api_app_id": s.AppID, "is_enterprise_install": "false",
		"response_url": ru, "trigger_id": s.newTriggerLocked(u.ID),
	})
	e.payload = payload
	s.enqueueLocked(e)
	d := s.deliveryLocked(e)
	s.mu.Unlock()
	s.dispatch()
	return d
}

// BlockAction is a person clicking a button in a message.
type BlockAction struct {
	User      string
	Channel   string
	MessageTS string
	ActionID  string
	// Value overrides the button's own value, to forge a click.
	Value string
}

// Click delivers a block_actions envelope for a button the user can see,
// with a fresh trigger_id and response_url. A button that is not there
// fails the test: a person could not click it.
func (s *Server) Click(a BlockAction) *Delivery {
	s.init()
	s.mu.Lock()
	u, ch, err := s.userAndChannelLocked(a.User, a.Channel)
	if err != nil {
		s.mu.Unlock()
		s.misuse("Click: %v", err)
		return nil
	}
	m, found := ch.byTS[a.MessageTS]
	if !found || m.deleted || (m.visibleTo != "" && m.visibleTo != u.ID) {
		s.mu.Unlock()
		s.misuse("Click: %s cannot see message %s in %s", a.User, a.MessageTS, a.Channel)
		return nil
	}
	btn, blockID, found := findButton(m.blocks, a.ActionID)
	if !found {
		s.mu.Unlock()
		s.misuse("Click: message %s has no button %q", a.MessageTS, a.ActionID)
		return nil
	}
	return s.sendClickLocked(u, btn, blockID, a.ActionID, a.Value, func(e *envelope) map[string]any {
		container := map[string]any{"type": "message", "message_ts": m.ts, "channel_id": ch.id, "is_ephemeral": m.visibleTo != ""}
		if m.threadTS != "" {
			container["thread_ts"] = m.threadTS
		}
		return map[string]any{
			"channel":   map[string]any{"id": ch.id, "name": ch.name},
			"container": container, "message": s.messageJSONLocked(m), "state": map[string]any{"values": map[string]any{}},
			"response_url": s.newResponseURLLocked(e, ch.id, m.ts, m.threadTS, u.ID),
		}
	})
}

// sendClickLocked delivers a block_actions envelope for a click on btn
// (forged, when set, replaces its value) with the fields every such
// payload has and those where adds: the container and what Slack sends
// with it. It unlocks s.mu.
func (s *Server) sendClickLocked(u *User, btn map[string]any, blockID, actionID, forged string, where func(e *envelope) map[string]any) *Delivery {
	value := str(btn["value"])
	if forged != "" {
		value = forged
	}
	e := &envelope{id: s.newIDLocked("env-"), typ: "interactive"}
	fields := map[string]any{
		"type": "block_actions", "token": "slacktest-verification", "api_app_id": s.AppID,
		"user":       map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": s.TeamID},
		"team":       map[string]any{"id": s.TeamID, "domain": "slacktest"},
		"trigger_id": s.newTriggerLocked(u.ID), "is_enterprise_install": false,
		"actions": []map[string]any{{
			"type": "button", "action_id": actionID, "block_id": blockID, "text": btn["text"],
			"value": value, "style": btn["style"], "action_ts": s.actionTSLocked(),
		}},
	}
	maps.Copy(fields, where(e))
	e.payload, _ = json.Marshal(fields)
	s.enqueueLocked(e)
	d := s.deliveryLocked(e)
	s.mu.Unlock()
	s.dispatch()
	return d
}

// actionTSLocked is a fresh action_ts on the fake's clock.
func (s *Server) actionTSLocked() string {
	now := s.now()
	s.ids++
	return fmt.Sprintf("%d.%06d", now.Unix(), s.ids%1_000_000)
}

// findButton finds a button by action_id in a message's blocks, and its
// block's id (Slack makes one up when the block has none).
func findButton(raw json.RawMessage, actionID string) (map[string]any, string, bool) {
	var blocks []map[string]any
	if json.Unmarshal(raw, &blocks) != nil {
		return nil, "", false
	}
	for i, b := range blocks {
		var els []any
		switch b["type"] {
		case "actions":
			els, _ = b["elements"].([]any)
		case "section":
			if acc, ok := b["accessory"]; ok {
				els = []any{acc}
			}
		}
		for _, e := range els {
			el, _ := e.(map[string]any)
			if el["type"] == "button" && el["action_id"] == actionID {
				id := str(b["block_id"])
				if id == "" {
					id = fmt.Sprintf("slacktest-block-%d", i)
				}
				return el, id, true
			}
		}
	}
	return nil, "", false
}

// ViewSubmission is a person submitting an open modal.
type ViewSubmission struct {
	User   string
	ViewID string
	// Values are the inputs' state, by block_id then action_id.
	Values map[string]map[string]slack.BlockAction
}

// Submit delivers a view_submission envelope for a modal the user has
// open. Closing it follows the ack, as in Slack.
func (s *Server) Submit(v ViewSubmission) *Delivery {
	s.init()
	s.mu.Lock()
	vw, ok := s.views[v.ViewID]
	if !ok || vw.user != v.User {
		s.mu.Unlock()
		s.misuse("Submit: %s has no open view %q", v.User, v.ViewID)
		return nil
	}
	u := s.users[v.User]
	view := s.viewJSONLocked(vw)["view"].(map[string]any)
	values := map[string]any{}
	for k, x := range v.Values {
		values[k] = x
	}
	view["state"] = map[string]any{"values": values}
	e := &envelope{id: s.newIDLocked("env-"), typ: "interactive"}
	payload, _ := json.Marshal(map[string]any{
		"type": "view_submission", "token": "slacktest-verification", "api_app_id": s.AppID,
		"user":       map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": s.TeamID},
		"team":       map[string]any{"id": s.TeamID, "domain": "slacktest"},
		"view":       view,
		"trigger_id": s.newTriggerLocked(u.ID), "response_urls": []any{}, "is_enterprise_install": false,
	})
	e.payload = payload
	s.enqueueLocked(e)
	d := s.deliveryLocked(e)
	s.mu.Unlock()
	s.dispatch()
	return d
}

func (s *Server) userAndChannelLocked(user, channelID string) (*User, *channel, error) {
	u, ok := s.users[user]
	if !ok {
		return nil, nil, fmt.Errorf("unknown user %q", user)
	}
	ch, ok := s.channels[channelID]
	if !ok {
		return nil, nil, fmt.Errorf("unknown channel %q", channelID)
	}
	return u, ch, nil
}

// misuse reports a test driving the fake in a way no person could.
func (s *Server) misuse(format string, args ...any) {
	msg := "slacktest: " + fmt.Sprintf(format, args...)
	if s.T == nil {
		panic(msg)
	}
	s.T.Fatalf("%s", msg)
}
