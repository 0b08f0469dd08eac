package slacktest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// A response_url lives 30 minutes and takes 5 posts, as in Slack.
const (
	responseURLLifetime = 30 * time.Minute
	responseURLUses     = 5
)

// responseURL is a response_url handed out with an interactive or slash
// envelope.
type responseURL struct {
	envelope *envelope
	// channel is where replies go; messageTS is the message a click came
	// from (replace_original and delete_original act on it) and threadTS
	// its thread.
	channel, messageTS, threadTS, user string
	issued                             time.Time
	uses                               int
}

// Response is one post to a response_url.
type Response struct {
	Text            string
	Blocks          json.RawMessage
	ResponseType    string // "ephemeral" (the default) or "in_channel"
	ReplaceOriginal bool
	DeleteOriginal  bool
	// TS is the message the post made or changed.
	TS string
	// InAck is a slash command's reply sent in its ack, not posted.
	InAck bool
}

func (s *Server) newResponseURLLocked(e *envelope, channel, messageTS, threadTS, user string) string {
	id := s.newIDLocked("r")
	ru := &responseURL{envelope: e, channel: channel, messageTS: messageTS, threadTS: threadTS, user: user, issued: s.now()}
	s.responses[id] = ru
	e.reply = ru
	return s.srv.URL + "/response/" + id
}

func responseID(u string) string {
	_, id, _ := strings.Cut(u, "/response/")
	return id
}

var responseKeys = []string{"text", "blocks", "attachments", "response_type", "replace_original", "delete_original",
	"thread_ts", "metadata", "mrkdwn", "unfurl_links", "unfurl_media"}

// responsePost is a message sent back for an envelope: a post to its
// response_url, or a slash command's ack payload, which Slack reads alike.
type responsePost struct {
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	DeleteOriginal  bool            `json:"delete_original"`
	ThreadTS        string          `json:"thread_ts"`
}

// readResponse reads a response post as Slack does; where names it in a
// violation.
func (s *Server) readResponse(where string, body []byte) (responsePost, bool) {
	var p responsePost
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		s.violation("%s: want a JSON object, got %q", where, body)
		return p, false
	}
	for k := range fields {
		if !contains(responseKeys, k) {
			s.violation("%s: unknown field %q", where, k)
			return p, false
		}
	}
	if err := json.Unmarshal(body, &p); err != nil {
		s.violation("%s: malformed field: %v", where, err)
		return p, false
	}
	if string(p.Blocks) == "null" {
		p.Blocks = nil
	}
	return p, true
}

func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/response/")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodPost {
		s.violation("response_url: want a POST, got %s", r.Method)
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "invalid_payload"})
		return
	}
	p, ok := s.readResponse("response_url", body)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "invalid_payload"})
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ru, ok := s.responses[id]
	switch {
	case !ok:
		s.violation("response_url: unknown URL %s", r.URL.Path)
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "invalid_url"})
		return
	case s.now().Sub(ru.issued) > responseURLLifetime:
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "expired_url"})
		return
	case ru.uses >= responseURLUses:
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "used_url"})
		return
	}
	if aerr := s.respondLocked(ru, p, false); aerr != nil {
		writeJSON(w, http.StatusBadRequest, errorBody(aerr))
		return
	}
	ru.uses++
	s.logf("slacktest: response_url %s", id)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// respondLocked checks a response post and makes its message as Slack
// does, recording it among the envelope's responses.
func (s *Server) respondLocked(ru *responseURL, p responsePost, inAck bool) *apiError {
	if aerr := s.checkResponseLocked(ru, p.ResponseType, p.Text, p.Blocks, p.DeleteOriginal, p.ReplaceOriginal); aerr != nil {
		return aerr
	}
	ch := s.channels[ru.channel]
	resp := Response{Text: p.Text, Blocks: p.Blocks, ResponseType: p.ResponseType, ReplaceOriginal: p.ReplaceOriginal, DeleteOriginal: p.DeleteOriginal, InAck: inAck}
	if resp.ResponseType == "" {
		resp.ResponseType = "ephemeral"
	}
	switch {
	case p.DeleteOriginal:
		orig := ch.byTS[ru.messageTS]
		orig.deleted = true
		resp.TS = orig.ts
	case p.ReplaceOriginal:
		orig := ch.byTS[ru.messageTS]
		orig.text, orig.blocks, orig.edited = p.Text, p.Blocks, true
		resp.TS = orig.ts
	default:
		m := &message{user: s.BotUserID, botID: s.BotID, text: p.Text, blocks: p.Blocks, threadTS: ru.threadTS}
		if p.ThreadTS != "" {
			root, aerr := threadRootLocked(ch, p.ThreadTS)
			if aerr != nil {
				return aerr
			}
			m.threadTS = root.ts
		}
		if resp.ResponseType == "ephemeral" {
			m.visibleTo = ru.user
		}
		s.storeLocked(ch, m)
		resp.TS = m.ts
	}
	ru.envelope.responses = append(ru.envelope.responses, resp)
	s.notifyLocked()
	return nil
}

// ackPayloadLocked takes a slash command's ack payload as the command's
// reply, as Slack takes the body of an HTTP app's answer: the same fields
// as a response_url post, without using one of the URL's five posts. A
// click's ack payload is a mistake Slack does not report: it shows no
// reply from it. Events ignore theirs; a modal's is its response_action.
func (s *Server) ackPayloadLocked(e *envelope, payload json.RawMessage) {
	if e.typ == "interactive" {
		var p struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(e.payload, &p) == nil && p.Type == "block_actions" {
			s.violation("socket: ack payload for a click (block_actions): Slack shows no reply from it; answer through the response_url")
		}
	}
	if e.typ != "slash_commands" {
		return
	}
	p, ok := s.readResponse("slash command ack", payload)
	if !ok {
		return
	}
	ru := e.reply
	if ru == nil {
		s.violation("slash command ack: envelope %s has no response_url", e.id)
		return
	}
	if aerr := s.respondLocked(ru, p, true); aerr != nil {
		s.logf("slacktest: slash command ack refused: %s", aerr.code)
	}
}

// checkResponseLocked validates a response_url post as Slack does.
func (s *Server) checkResponseLocked(ru *responseURL, typ, text string, blocks json.RawMessage, del, replace bool) *apiError {
	if typ != "" && typ != "ephemeral" && typ != "in_channel" {
		s.violation("response_url: response_type %q is not ephemeral or in_channel", typ)
		return errCode("invalid_payload")
	}
	if (del || replace) && ru.messageTS == "" {
		s.violation("response_url: replace_original or delete_original without an original message (a slash command has none)")
		return errCode("invalid_payload")
	}
	if del {
		return nil
	}
	if len(blocks) > 0 {
		if problems, malformed := validateBlocks(blocks, surfaceMessage); malformed || len(problems) > 0 {
			s.violation("response_url: invalid blocks: %s", strings.Join(problems, "; "))
			return errCode("invalid_blocks", problems...)
		}
	}
	if text == "" && !hasItems(blocks) {
		s.violation("response_url: neither text nor blocks given")
		return errCode("no_text")
	}
	return nil
}
