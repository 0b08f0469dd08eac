package slacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Call is one Web API request as the fake received it.
type Call struct {
	Method string
	// Args holds every argument but the token. Values sent as JSON that
	// are not strings (blocks in a JSON body, booleans) are their JSON.
	Args map[string]string
	At   time.Time
	// Status is the HTTP status served; Error is Slack's error code, ""
	// when the call succeeded.
	Status int
	Error  string
}

// Calls returns every Web API call so far, oldest first; with methods
// given, only calls to those.
func (s *Server) Calls(methods ...string) []Call {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(methods) == 0 || contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

// WaitCalls waits until at least n calls to method have been served.
func (s *Server) WaitCalls(ctx context.Context, method string, n int) ([]Call, error) {
	s.init()
	var out []Call
	err := s.wait(ctx, func() bool {
		out = out[:0]
		for _, c := range s.calls {
			if c.Method == method {
				out = append(out, c)
			}
		}
		return len(out) >= n
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d calls to %s (have %d): %w", n, method, len(out), err)
	}
	return out, nil
}

// wait blocks until cond, called with s.mu held, is true or ctx ends.
func (s *Server) wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// apiError is a Slack error response: {"ok":false,"error":code}, with
// response_metadata.messages for invalid_blocks and the like.
type apiError struct {
	code     string
	messages []string
}

func errCode(code string, messages ...string) *apiError {
	return &apiError{code: code, messages: messages}
}

type tokenKind int

const (
	botToken tokenKind = iota
	appToken
)

// method describes one Web API method: the arguments Slack documents for
// it, the ones it requires, the token it takes and its handler.
type method struct {
	token    tokenKind
	args     []string
	required []string
	serve    func(s *Server, r *request) (map[string]any, *apiError)
}

// request is a parsed Web API call. Handlers run with s.mu held.
type request struct {
	method string
	args   map[string]string
}

var methods = map[string]method{
	"auth.test": {serve: (*Server).authTest},
	"apps.connections.open": {
		token: appToken,
		serve: (*Server).connectionsOpen,
	},
	"chat.postMessage": {
		args: []string{"channel", "text", "blocks", "attachments", "thread_ts", "reply_broadcast", "as_user",
			"icon_emoji", "icon_url", "link_names", "metadata", "mrkdwn", "parse", "unfurl_links", "unfurl_media",
			"username", "markdown_text"},
		required: []string{"channel"},
		serve:    (*Server).chatPostMessage,
	},
	"chat.postEphemeral": {
		args: []string{"channel", "user", "text", "blocks", "attachments", "thread_ts", "as_user", "icon_emoji",
			"icon_url", "link_names", "parse", "username", "markdown_text"},
		required: []string{"channel", "user"},
		serve:    (*Server).chatPostEphemeral,
	},
	"chat.update": {
		args: []string{"channel", "ts", "text", "blocks", "attachments", "as_user", "file_ids", "link_names",
			"metadata", "parse", "reply_broadcast", "markdown_text"},
		required: []string{"channel", "ts"},
		serve:    (*Server).chatUpdate,
	},
	"chat.delete": {
		args:     []string{"channel", "ts", "as_user"},
		required: []string{"channel", "ts"},
		serve:    (*Server).chatDelete,
	},
	"chat.getPermalink": {
		args:     []string{"channel", "message_ts"},
		required: []string{"channel", "message_ts"},
		serve:    (*Server).chatGetPermalink,
	},
	"views.open": {
		args:     []string{"trigger_id", "interactivity_pointer", "view"},
		required: []string{"view"},
		serve:    (*Server).viewsOpen,
	},
	"views.push": {
		args:     []string{"trigger_id", "interactivity_pointer", "view"},
		required: []string{"view"},
		serve:    (*Server).viewsPush,
	},
	"views.update": {
		args:     []string{"view", "external_id", "hash", "view_id"},
		required: []string{"view"},
		serve:    (*Server).viewsUpdate,
	},
	"views.publish": {
		args:     []string{"user_id", "view", "hash"},
		required: []string{"user_id", "view"},
		serve:    (*Server).viewsPublish,
	},
	"users.info": {
		args:     []string{"user", "include_locale"},
		required: []string{"user"},
		serve:    (*Server).usersInfo,
	},
	"usergroups.users.list": {
		args:     []string{"usergroup", "include_disabled", "team_id"},
		required: []string{"usergroup"},
		serve:    (*Server).usergroupsUsersList,
	},
}

// booleanArgs are the arguments Slack parses as booleans.
var booleanArgs = map[string]bool{
	"reply_broadcast": true, "as_user": true, "mrkdwn": true, "unfurl_links": true, "unfurl_media": true,
	"include_locale": true, "include_disabled": true, "link_names": true,
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/api/")
	m, known := methods[name]
	if !known {
		s.violation("unknown Web API method %q", name)
		s.record(Call{Method: name, At: s.now(), Status: http.StatusOK, Error: "unknown_method"})
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "unknown_method"})
		return
	}
	req, token, perr := parseRequest(r)
	if perr != nil {
		s.violation("%s: %v", name, perr)
		s.record(Call{Method: name, At: s.now(), Status: http.StatusOK, Error: "invalid_arguments"})
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	req.method = name
	call := Call{Method: name, Args: req.args, At: s.now(), Status: http.StatusOK}

	if s.OnCall != nil {
		if f := s.OnCall(call); f != nil {
			s.serveFault(w, call, *f)
			return
		}
	}
	if f, ok := s.takeFault(name); ok {
		s.serveFault(w, call, f)
		return
	}
	s.waitHolds(r.Context(), name)

	if aerr := s.checkToken(m.token, token); aerr != nil {
		call.Error = aerr.code
		s.record(call)
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": aerr.code})
		return
	}
	if aerr := s.checkArgs(name, m, req); aerr != nil {
		call.Error = aerr.code
		s.record(call)
		writeJSON(w, http.StatusOK, errorBody(aerr))
		return
	}

	s.mu.Lock()
	if s.EnforceRateLimits {
		if wait, limited := s.rateLimitLocked(name, req.args["channel"]); limited {
			s.served429[name]++
			call.Status, call.Error = http.StatusTooManyRequests, "ratelimited"
			s.recordLocked(call)
			s.mu.Unlock()
			w.Header().Set("Retry-After", fmt.Sprint(wait))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
			return
		}
	}
	body, aerr := m.serve(s, req)
	if aerr != nil {
		call.Error = aerr.code
	}
	s.recordLocked(call)
	s.mu.Unlock()
	s.dispatch()

	if aerr != nil {
		s.logf("slacktest: %s -> %s %v", name, aerr.code, aerr.messages)
		writeJSON(w, http.StatusOK, errorBody(aerr))
		return
	}
	s.logf("slacktest: %s ok", name)
	body["ok"] = true
	writeJSON(w, http.StatusOK, body)
}

func errorBody(e *apiError) map[string]any {
	out := map[string]any{"ok": false, "error": e.code}
	if len(e.messages) > 0 {
		out["response_metadata"] = map[string]any{"messages": e.messages}
	}
	return out
}

// checkToken answers as Slack does for a missing, wrong or misplaced token.
func (s *Server) checkToken(kind tokenKind, token string) *apiError {
	want := s.BotToken
	if kind == appToken {
		want = s.AppToken
	}
	switch {
	case token == "":
		return errCode("not_authed")
	case token == want:
		return nil
	case kind == appToken && token == s.BotToken, kind == botToken && token == s.AppToken:
		return errCode("not_allowed_token_type")
	default:
		return errCode("invalid_auth")
	}
}

// checkArgs fails the test for an argument Slack does not document for the
// method, a missing required one, or a malformed boolean or timestamp.
func (s *Server) checkArgs(name string, m method, req *request) *apiError {
	for k, v := range req.args {
		if !contains(m.args, k) {
			s.violation("%s: unknown argument %q", name, k)
			return errCode("invalid_arguments", fmt.Sprintf("[ERROR] unknown argument %q", k))
		}
		if booleanArgs[k] && !contains([]string{"true", "false", "1", "0"}, v) {
			s.violation("%s: argument %s=%q is not a boolean", name, k, v)
			return errCode("invalid_arguments", fmt.Sprintf("[ERROR] %s must be a boolean", k))
		}
		if (k == "ts" || k == "thread_ts" || k == "message_ts") && !looksLikeTS(v) {
			s.violation("%s: argument %s=%q is not a timestamp", name, k, v)
			return errCode("invalid_arguments", fmt.Sprintf("[ERROR] %s must be a timestamp", k))
		}
	}
	for _, k := range m.required {
		if req.args[k] == "" {
			s.violation("%s: missing required argument %q", name, k)
			return errCode("invalid_arguments", fmt.Sprintf("[ERROR] missing required field: %s", k))
		}
	}
	return nil
}

// parseRequest reads a form- or JSON-encoded call (slack-go sends both)
// and the token, from the Authorization header or the token argument.
func parseRequest(r *http.Request) (*request, string, error) {
	req := &request{args: map[string]string{}}
	token := ""
	if h := r.Header.Get("Authorization"); h != "" {
		t, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, "", fmt.Errorf("Authorization header is not a Bearer token")
		}
		token = t
	}
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, "", fmt.Errorf("read body: %w", err)
	}
	switch {
	case r.Method == http.MethodGet:
		if err := addValues(req, r.URL.Query()); err != nil {
			return nil, "", err
		}
	case ctype == "application/json":
		if len(bytes.TrimSpace(body)) == 0 || string(bytes.TrimSpace(body)) == "null" {
			break
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			return nil, "", fmt.Errorf("JSON body does not decode: %v", err)
		}
		for k, raw := range fields {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				req.args[k] = str
				continue
			}
			req.args[k] = string(raw)
		}
	case ctype == "application/x-www-form-urlencoded" || ctype == "":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, "", fmt.Errorf("form body does not decode: %v", err)
		}
		if err := addValues(req, vals); err != nil {
			return nil, "", err
		}
		if err := addValues(req, r.URL.Query()); err != nil {
			return nil, "", err
		}
	default:
		return nil, "", fmt.Errorf("unsupported Content-Type %q", ctype)
	}
	if t, ok := req.args["token"]; ok {
		if token != "" && t != token {
			return nil, "", fmt.Errorf("token argument and Authorization header disagree")
		}
		token = t
		delete(req.args, "token")
	}
	return req, token, nil
}

func addValues(req *request, vals url.Values) error {
	for k, vs := range vals {
		if len(vs) != 1 {
			return fmt.Errorf("argument %q given %d times", k, len(vs))
		}
		req.args[k] = vs[0]
	}
	return nil
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(c)
}

func (s *Server) recordLocked(c Call) {
	s.calls = append(s.calls, c)
	s.notifyLocked()
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
