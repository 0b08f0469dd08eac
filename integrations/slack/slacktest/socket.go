package slacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// conn is one Socket Mode WebSocket.
type conn struct {
	s    *Server
	n    int // 1 for the first connection ever opened
	ws   *websocket.Conn
	wmu  sync.Mutex // gorilla allows one writer of data frames at a time
	done chan struct{}
	once sync.Once
	// ready is set once hello was sent; envelopes go only to ready conns.
	ready bool
}

// envelope is one Socket Mode request to the app.
type envelope struct {
	id          string
	typ         string
	payload     json.RawMessage
	accepts     bool
	attempt     int
	retryReason string

	conn   *conn // where it was last sent; nil while pending
	sentAt time.Time
	acked  bool
	ack    Ack
	// responses are the posts to this envelope's response_url, and a
	// slash command's reply in its ack.
	responses []Response
	// reply is the envelope's response_url, if it has one.
	reply *responseURL
}

// Ack is the app's acknowledgement of an envelope.
type Ack struct {
	// Payload is the ack's payload, if it had one.
	Payload json.RawMessage
	// Latency is the real time from writing the envelope to reading its ack.
	Latency time.Duration
	// Attempt is the delivery acknowledged: 0 for the first.
	Attempt int
}

func (s *Server) connectionsOpen(*request) (map[string]any, *apiError) {
	ticket := s.newIDLocked("ticket-")
	s.tickets[ticket] = true
	u := "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/link/?ticket=" + ticket + "&app_id=" + s.AppID
	return map[string]any{"url": u}, nil
}

// upgrader accepts any Origin: slack-go says https://api.slack.com, which
// is not this server.
var upgrader = websocket.Upgrader{WriteBufferSize: 32 << 10, CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	ok := s.tickets[ticket] && !s.closed
	delete(s.tickets, ticket)
	if ok {
		// Close waits for this handler: it outlives the HTTP server's
		// bookkeeping once the connection is hijacked.
		s.sockets.Add(1)
		defer s.sockets.Done()
	}
	s.mu.Unlock()
	if !ok {
		// Slack's WebSocket URLs are single use.
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.logf("slacktest: upgrade: %v", err)
		return
	}
	c := &conn{s: s, ws: ws, done: make(chan struct{})}
	s.mu.Lock()
	s.connsOpened++
	c.n = s.connsOpened
	s.conns[c] = true
	open := len(s.conns)
	s.mu.Unlock()
	s.logf("slacktest: socket %d connected", c.n)

	err = c.write(map[string]any{
		"type":            "hello",
		"num_connections": open,
		"debug_info":      map[string]any{"host": "slacktest", "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": s.AppID},
	})
	if err == nil {
		s.mu.Lock()
		c.ready = true
		s.notifyLocked()
		s.mu.Unlock()
		go c.ping()
		s.dispatch()
		c.read()
	}
	c.close()
	s.dropConn(c)
}

// dropConn forgets c and queues again what was sent on it and not acked,
// as Slack retries an envelope that was not acknowledged.
func (s *Server) dropConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	for _, e := range s.envelopes {
		if e.conn == c && !e.acked {
			e.conn = nil
			e.attempt++
			e.retryReason = "timeout"
			s.pending = append(s.pending, e)
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.logf("slacktest: socket %d closed", c.n)
	s.dispatch()
}

func (c *conn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(v)
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

func (c *conn) ping() {
	t := time.NewTicker(c.s.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		c.s.mu.Lock()
		stopped := c.s.pingsStopped
		c.s.mu.Unlock()
		if stopped {
			continue
		}
		if err := c.ws.WriteControl(websocket.PingMessage, []byte("slacktest"), time.Now().Add(time.Second)); err != nil {
			return
		}
	}
}

// read takes acks until the connection ends.
func (c *conn) read() {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(data, &ack); err != nil || ack.EnvelopeID == "" {
			c.s.violation("socket: the app sent %q, which is not an ack", data)
			continue
		}
		c.s.acked(ack.EnvelopeID, ack.Payload)
	}
}

func (s *Server) acked(id string, payload json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.envelopes[id]
	if !ok {
		s.violation("socket: ack for unknown envelope %q", id)
		return
	}
	if e.acked {
		return
	}
	e.acked = true
	if string(payload) == "null" {
		payload = nil
	}
	e.ack = Ack{Payload: payload, Latency: time.Since(e.sentAt), Attempt: e.attempt}
	if len(payload) > 0 {
		s.ackPayloadLocked(e, payload)
	}
	if e.typ == "interactive" {
		s.viewSubmissionAckedLocked(e)
	}
	s.notifyLocked()
}

// viewSubmissionAckedLocked closes or changes the modal as Slack does for
// the ack's response_action.
func (s *Server) viewSubmissionAckedLocked(e *envelope) {
	var p struct {
		Type string `json:"type"`
		View struct {
			ID string `json:"id"`
		} `json:"view"`
	}
	if json.Unmarshal(e.payload, &p) != nil || p.Type != "view_submission" {
		return
	}
	var resp struct {
		ResponseAction string            `json:"response_action"`
		View           map[string]any    `json:"view"`
		Errors         map[string]string `json:"errors"`
	}
	if len(e.ack.Payload) > 0 {
		_ = json.Unmarshal(e.ack.Payload, &resp)
	}
	v, ok := s.views[p.View.ID]
	if !ok {
		return
	}
	v.errors = nil
	switch resp.ResponseAction {
	case "errors":
		if s.checkErrorsLocked(v, resp.Errors) {
			v.errors = resp.Errors
		}
	case "update":
		v.spec = resp.View
		v.hash = s.newIDLocked("h.")
	case "clear":
		for id, x := range s.views {
			if x.user == v.user {
				delete(s.views, id)
			}
		}
	default:
		// Closing a view closes the ones pushed on top of it.
		for _, x := range s.stackLocked(v.user) {
			if x == v || x.previousID == v.id {
				delete(s.views, x.id)
			}
		}
	}
}

// enqueueLocked queues an envelope for delivery; dispatch sends it.
func (s *Server) enqueueLocked(e *envelope) {
	s.envelopes[e.id] = e
	s.pending = append(s.pending, e)
	s.notifyLocked()
}

// dispatch sends pending envelopes to ready connections, round robin.
// Envelopes wait while no connection is ready.
func (s *Server) dispatch() {
	type send struct {
		c   *conn
		msg map[string]any
		e   *envelope
	}
	var sends []send
	s.mu.Lock()
	var ready []*conn
	for c := range s.conns {
		if c.ready {
			ready = append(ready, c)
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].n < ready[j].n })
	if len(ready) > 0 {
		for _, e := range s.pending {
			c := ready[s.nextConn%len(ready)]
			s.nextConn++
			e.conn = c
			e.sentAt = time.Now()
			msg := map[string]any{
				"envelope_id": e.id, "type": e.typ, "payload": e.payload,
				"accepts_response_payload": e.accepts, "retry_attempt": e.attempt, "retry_reason": e.retryReason,
			}
			sends = append(sends, send{c, msg, e})
		}
		s.pending = nil
	}
	s.mu.Unlock()
	for _, x := range sends {
		if err := x.c.write(x.msg); err != nil {
			// The read side sees the broken connection and requeues.
			x.c.close()
		}
	}
}

// Disconnect asks every open connection to reconnect, as Slack does before
// it rotates its servers. reason is e.g. "refresh_requested" or "warning".
func (s *Server) Disconnect(reason string) {
	for _, c := range s.openConns() {
		_ = c.write(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "slacktest"}})
	}
}

// DropConnections closes every open connection without a word, as a
// network failure would.
func (s *Server) DropConnections() {
	for _, c := range s.openConns() {
		_ = c.ws.NetConn().Close()
	}
}

// StopPings stops (true) or resumes (false) the pings on every connection.
// slack-go's client reconnects when they stop.
func (s *Server) StopPings(stop bool) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pingsStopped = stop
}

func (s *Server) openConns() []*conn {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Connections is the number of open, ready connections.
func (s *Server) Connections() int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readyLocked()
}

func (s *Server) readyLocked() int {
	n := 0
	for c := range s.conns {
		if c.ready {
			n++
		}
	}
	return n
}

// WaitConnected waits until the n-th connection since the server started
// has said hello and a connection is open.
func (s *Server) WaitConnected(ctx context.Context, n int) error {
	s.init()
	err := s.wait(ctx, func() bool { return s.connsOpened >= n && s.readyLocked() > 0 })
	if err != nil {
		return fmt.Errorf("waiting for Socket Mode connection %d: %w", n, err)
	}
	return nil
}

// WaitDisconnected waits until no connection is open.
func (s *Server) WaitDisconnected(ctx context.Context) error {
	s.init()
	if err := s.wait(ctx, func() bool { return len(s.conns) == 0 }); err != nil {
		return fmt.Errorf("waiting for every Socket Mode connection to close: %w", err)
	}
	return nil
}
