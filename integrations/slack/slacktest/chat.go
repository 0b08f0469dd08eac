package slacktest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// channel is a conversation: its members and its messages.
type channel struct {
	id, name string
	members  map[string]bool
	roots    []*message
	byTS     map[string]*message // roots, replies and ephemeral messages
	// lastSec and lastMicro are the newest ts handed out, so ts values
	// increase strictly even when the clock stands still.
	lastSec, lastMicro int64
}

// message is a message as Slack stores it.
type message struct {
	channel  string
	ts       string
	threadTS string // the root's ts for a reply, "" for a root
	user     string
	username string // a display-name override (bots, webhooks)
	botID    string
	subtype  string
	text     string
	blocks   json.RawMessage
	attach   json.RawMessage
	// visibleTo is the only user who sees an ephemeral message.
	visibleTo string
	edited    bool
	deleted   bool
	replies   []*message
	// notified are the users its mentions notified (mentions.go).
	notified []string
}

func (s *Server) newTSLocked(ch *channel) string {
	now := s.now()
	sec, micro := now.Unix(), int64(now.Nanosecond()/1000)
	if sec < ch.lastSec || (sec == ch.lastSec && micro <= ch.lastMicro) {
		sec, micro = ch.lastSec, ch.lastMicro+1
		if micro == 1_000_000 {
			sec, micro = sec+1, 0
		}
	}
	ch.lastSec, ch.lastMicro = sec, micro
	return fmt.Sprintf("%d.%06d", sec, micro)
}

// storeLocked adds m to its channel, as a root or as a reply.
func (s *Server) storeLocked(ch *channel, m *message) {
	if m.ts == "" {
		m.ts = s.newTSLocked(ch)
	}
	m.channel = ch.id
	ch.byTS[m.ts] = m
	if m.threadTS == "" {
		ch.roots = append(ch.roots, m)
	} else {
		root := ch.byTS[m.threadTS]
		root.replies = append(root.replies, m)
	}
	s.notifyLocked()
}

// postableLocked finds a channel the bot may post in.
func (s *Server) postableLocked(id string) (*channel, *apiError) {
	ch, ok := s.channels[id]
	if !ok {
		return nil, errCode("channel_not_found")
	}
	if !ch.members[s.BotUserID] {
		return nil, errCode("not_in_channel")
	}
	return ch, nil
}

// threadRootLocked resolves thread_ts to a root message. A reply's ts
// names its root, as in Slack.
func threadRootLocked(ch *channel, ts string) (*message, *apiError) {
	m, ok := ch.byTS[ts]
	if !ok || m.visibleTo != "" || (m.deleted && len(m.replies) == 0) {
		return nil, errCode("invalid_thread_ts")
	}
	if m.threadTS != "" {
		return ch.byTS[m.threadTS], nil
	}
	return m, nil
}

// content is the text, blocks and attachments of a posted message.
type content struct {
	text                          string
	blocks, attach                json.RawMessage
	hasText, hasBlocks, hasAttach bool
}

// contentLocked validates a message's text, blocks and attachments as
// Slack does: each may be left out as long as one is given.
func (s *Server) contentLocked(r *request) (content, *apiError) {
	var c content
	c.text, c.hasText = r.args["text"]
	if raw, ok := r.args["blocks"]; ok {
		c.hasBlocks = true
		c.blocks = json.RawMessage(raw)
		if problems, malformed := validateBlocks(c.blocks, surfaceMessage); malformed {
			s.violation("%s: blocks are not a JSON array of blocks: %s", r.method, strings.Join(problems, "; "))
			return c, errCode("invalid_blocks_format")
		} else if len(problems) > 0 {
			s.violation("%s: blocks break Block Kit's limits: %s", r.method, strings.Join(problems, "; "))
			return c, errCode("invalid_blocks", problems...)
		}
	}
	if raw, ok := r.args["attachments"]; ok {
		c.hasAttach = true
		c.attach = json.RawMessage(raw)
		var list []map[string]any
		if err := json.Unmarshal(c.attach, &list); err != nil {
			s.violation("%s: attachments are not a JSON array: %v", r.method, err)
			return c, errCode("invalid_attachments")
		}
	}
	if len(c.text) > 40000 {
		s.violation("%s: text of %d characters is over Slack's 40000", r.method, len(c.text))
		return c, errCode("msg_too_long")
	}
	if c.text == "" && !hasItems(c.blocks) && !hasItems(c.attach) {
		s.violation("%s: neither text nor blocks nor attachments given", r.method)
		return c, errCode("no_text")
	}
	return c, nil
}

func hasItems(raw json.RawMessage) bool {
	var list []json.RawMessage
	return json.Unmarshal(raw, &list) == nil && len(list) > 0
}

func (s *Server) chatPostMessage(r *request) (map[string]any, *apiError) {
	ch, aerr := s.postableLocked(r.args["channel"])
	if aerr != nil {
		return nil, aerr
	}
	c, aerr := s.contentLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	m := &message{user: s.BotUserID, botID: s.BotID, username: r.args["username"], text: c.text, blocks: c.blocks, attach: c.attach}
	if tts := r.args["thread_ts"]; tts != "" {
		root, aerr := threadRootLocked(ch, tts)
		if aerr != nil {
			return nil, aerr
		}
		m.threadTS = root.ts
	}
	m.notified = s.notifiedLocked(ch, m)
	s.storeLocked(ch, m)
	if s.EchoMessages {
		s.enqueueLocked(s.eventEnvelopeLocked(s.echoEventLocked(m)))
	}
	return map[string]any{"channel": ch.id, "ts": m.ts, "message": s.messageJSONLocked(m)}, nil
}

func (s *Server) chatPostEphemeral(r *request) (map[string]any, *apiError) {
	ch, aerr := s.postableLocked(r.args["channel"])
	if aerr != nil {
		return nil, aerr
	}
	user := r.args["user"]
	if _, ok := s.users[user]; !ok {
		return nil, errCode("user_not_found")
	}
	if !ch.members[user] {
		return nil, errCode("user_not_in_channel")
	}
	c, aerr := s.contentLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	m := &message{user: s.BotUserID, botID: s.BotID, username: r.args["username"], text: c.text, blocks: c.blocks, attach: c.attach, visibleTo: user}
	if tts := r.args["thread_ts"]; tts != "" {
		root, aerr := threadRootLocked(ch, tts)
		if aerr != nil {
			return nil, aerr
		}
		m.threadTS = root.ts
	}
	s.storeLocked(ch, m)
	return map[string]any{"message_ts": m.ts}, nil
}

// ownMessageLocked finds a message of the bot's that it may edit or delete.
func (s *Server) ownMessageLocked(r *request, notOwn string) (*message, *apiError) {
	ch, ok := s.channels[r.args["channel"]]
	if !ok {
		return nil, errCode("channel_not_found")
	}
	m, ok := ch.byTS[r.args["ts"]]
	if !ok || m.deleted || m.visibleTo != "" {
		return nil, errCode("message_not_found")
	}
	if m.user != s.BotUserID {
		return nil, errCode(notOwn)
	}
	return m, nil
}

func (s *Server) chatUpdate(r *request) (map[string]any, *apiError) {
	m, aerr := s.ownMessageLocked(r, "cant_update_message")
	if aerr != nil {
		return nil, aerr
	}
	c, aerr := s.contentLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	// Slack keeps the parts an update leaves out.
	if c.hasText {
		m.text = c.text
	}
	if c.hasBlocks {
		m.blocks = c.blocks
	}
	if c.hasAttach {
		m.attach = c.attach
	}
	m.edited = true
	s.notifyLocked()
	return map[string]any{"channel": m.channel, "ts": m.ts, "text": m.text, "message": s.messageJSONLocked(m)}, nil
}

func (s *Server) chatDelete(r *request) (map[string]any, *apiError) {
	m, aerr := s.ownMessageLocked(r, "cant_delete_message")
	if aerr != nil {
		return nil, aerr
	}
	m.deleted = true
	s.notifyLocked()
	return map[string]any{"channel": m.channel, "ts": m.ts}, nil
}

func (s *Server) chatGetPermalink(r *request) (map[string]any, *apiError) {
	ch, ok := s.channels[r.args["channel"]]
	if !ok {
		return nil, errCode("channel_not_found")
	}
	m, ok := ch.byTS[r.args["message_ts"]]
	if !ok || m.deleted || m.visibleTo != "" {
		return nil, errCode("message_not_found")
	}
	return map[string]any{"channel": ch.id, "permalink": permalink(ch.id, m)}, nil
}

func permalink(channel string, m *message) string {
	link := fmt.Sprintf("https://slacktest.slack.com/archives/%s/p%s", channel, strings.Replace(m.ts, ".", "", 1))
	if m.threadTS != "" {
		link += fmt.Sprintf("?thread_ts=%s&cid=%s", m.threadTS, channel)
	}
	return link
}

// messageJSONLocked is a message as the Web API returns it.
func (s *Server) messageJSONLocked(m *message) map[string]any {
	out := map[string]any{"type": "message", "ts": m.ts, "text": m.text, "user": m.user}
	if m.botID != "" {
		out["bot_id"] = m.botID
		out["app_id"] = s.AppID
	}
	if m.username != "" {
		out["username"] = m.username
	}
	if m.subtype != "" {
		out["subtype"] = m.subtype
	}
	if m.threadTS != "" {
		out["thread_ts"] = m.threadTS
	}
	if len(m.blocks) > 0 {
		out["blocks"] = m.blocks
	}
	if len(m.attach) > 0 {
		out["attachments"] = m.attach
	}
	return out
}

func (s *Server) authTest(*request) (map[string]any, *apiError) {
	return map[string]any{
		"url": "https://slacktest.slack.com/", "team": "slacktest", "user": s.BotName,
		"team_id": s.TeamID, "user_id": s.BotUserID, "bot_id": s.BotID,
	}, nil
}

func (s *Server) usersInfo(r *request) (map[string]any, *apiError) {
	u, ok := s.users[r.args["user"]]
	if !ok {
		return nil, errCode("user_not_found")
	}
	real := u.RealName
	if real == "" {
		real = u.Name
	}
	profile := map[string]any{"real_name": real, "display_name": u.Name}
	if u.Email != "" {
		profile["email"] = u.Email
	}
	return map[string]any{"user": map[string]any{
		"id": u.ID, "team_id": s.TeamID, "name": u.Name, "real_name": real, "is_bot": u.IsBot,
		"deleted": false, "profile": profile,
	}}, nil
}

func (s *Server) usergroupsUsersList(r *request) (map[string]any, *apiError) {
	members, ok := s.groups[r.args["usergroup"]]
	if !ok {
		return nil, errCode("no_such_subteam")
	}
	return map[string]any{"users": append([]string{}, members...)}, nil
}
