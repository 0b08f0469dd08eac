// Package slacktest is a fake Slack on loopback for tests and the demo: the
// Web API methods the bot calls, the Socket Mode WebSocket, response_url
// endpoints and trigger_ids, all driven by the real slack-go client.
//
// It is strict: a call a real Slack would reject because the caller is wrong
// (an unknown method or argument, a malformed value, blocks that break Block
// Kit's limits) gets Slack's error response AND fails the test through T.
// Errors that depend on the workspace's state (channel_not_found,
// not_in_channel, expired_trigger_id, 429s) are only answered, because the
// bot is expected to handle them.
//
// The zero value is ready to use; New also ties it to a test. Configure the
// exported fields before the first call; change faults while it runs with
// the methods in faults.go.
package slacktest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a fake Slack workspace with one app installed.
type Server struct {
	// T, when set, fails the test whose code made a call a real Slack
	// would reject as malformed. Without T such calls panic in the handler.
	T testing.TB

	// Identity of the workspace and the app. Empty fields get defaults.
	BotToken  string // "xoxb-slacktest"
	AppToken  string // "xapp-slacktest"
	TeamID    string // "T0SLACKTEST"
	AppID     string // "A0SLACKTEST"
	BotUserID string // "U0BOT"
	BotID     string // "B0BOT"
	BotName   string // "signon-token-bot"

	// Now is the fake's clock: trigger_id lifetimes, rate limits and ts
	// values follow it. Nil means time.Now.
	Now func() time.Time

	// PingInterval is how often the WebSocket is pinged; 0 means 200ms.
	// Pings use real time: they are what slack-go's client watches.
	PingInterval time.Duration

	// EnforceRateLimits answers calls over Slack's published limits
	// (Limits, or DefaultLimits) with 429 and Retry-After.
	EnforceRateLimits bool
	Limits            map[string]Limit

	// HomeTabDisabled answers views.publish with not_enabled, as Slack
	// does for an app whose manifest does not enable the Home tab.
	HomeTabDisabled bool

	// EchoMessages delivers a message event for every message the bot
	// posts, as Slack does to an app subscribed to message events.
	EchoMessages bool

	// OnCall, when set, sees every Web API call before it is served; a
	// non-nil Fault it returns is served instead.
	OnCall func(Call) *Fault

	// Logf receives a line per call and connection. Nil means T.Logf when
	// T is set.
	Logf func(format string, args ...any)

	// Addr, when set, is the host:port to listen on instead of a free
	// loopback port: a test points the bot at an address that refuses
	// connections, then starts the fake there, as Slack coming back.
	Addr string

	initOnce sync.Once
	srv      *httptest.Server

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever state changes
	closed  bool

	users     map[string]*User
	groups    map[string][]string
	channels  map[string]*channel
	calls     []Call
	ids       int
	triggers  map[string]*trigger
	views     map[string]*view
	responses map[string]*responseURL

	// homes are the Home tabs published, by user (home.go).
	homes map[string]*view

	faults    []*fault
	holds     []*Hold
	buckets   map[string]*bucket
	served429 map[string]int

	conns        map[*conn]bool
	sockets      sync.WaitGroup // serveSocket handlers running
	connsOpened  int
	tickets      map[string]bool
	pingsStopped bool
	envelopes    map[string]*envelope
	pending      []*envelope // waiting for a connection
	nextConn     int
}

// New returns a started Server that fails t on strictness violations and
// closes when t ends.
func New(t testing.TB) *Server {
	s := &Server{T: t}
	s.init()
	t.Cleanup(s.Close)
	return s
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		def := func(p *string, v string) {
			if *p == "" {
				*p = v
			}
		}
		def(&s.BotToken, "xoxb-slacktest")
		def(&s.AppToken, "xapp-slacktest")
		def(&s.TeamID, "T0SLACKTEST")
		def(&s.AppID, "A0SLACKTEST")
		def(&s.BotUserID, "U0BOT")
		def(&s.BotID, "B0BOT")
		def(&s.BotName, "signon-token-bot")
		if s.PingInterval == 0 {
			s.PingInterval = 200 * time.Millisecond
		}
		s.changed = make(chan struct{})
		s.users = map[string]*User{s.BotUserID: {ID: s.BotUserID, Name: s.BotName, IsBot: true}}
		s.groups = map[string][]string{}
		s.channels = map[string]*channel{}
		s.triggers = map[string]*trigger{}
		s.views = map[string]*view{}
		s.responses = map[string]*responseURL{}
		s.buckets = map[string]*bucket{}
		s.served429 = map[string]int{}
		s.conns = map[*conn]bool{}
		s.tickets = map[string]bool{}
		s.envelopes = map[string]*envelope{}

		mux := http.NewServeMux()
		mux.HandleFunc("/api/", s.serveAPI)
		mux.HandleFunc("/link/", s.serveSocket)
		mux.HandleFunc("/response/", s.serveResponseURL)
		s.srv = httptest.NewUnstartedServer(mux)
		if s.Addr != "" {
			l, err := net.Listen("tcp", s.Addr)
			if err != nil {
				panic("slacktest: listen on Addr: " + err.Error())
			}
			_ = s.srv.Listener.Close()
			s.srv.Listener = l
		}
		s.srv.Start()
	})
}

// URL is the Web API base URL, with the trailing slash slack-go expects
// (slack.OptionAPIURL, the bot's SLACK_API_URL).
func (s *Server) URL() string {
	s.init()
	return s.srv.URL + "/api/"
}

// Close drops every connection and stops the server.
func (s *Server) Close() {
	s.init()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	for _, h := range s.holds {
		h.unblock()
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	s.sockets.Wait()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) logf(format string, args ...any) {
	switch {
	case s.Logf != nil:
		s.Logf(format, args...)
	case s.T != nil:
		s.T.Logf(format, args...)
	}
}

// violation reports a call a real Slack would reject because the caller is
// wrong. The caller still gets Slack's error response.
func (s *Server) violation(format string, args ...any) {
	msg := "slacktest: " + fmt.Sprintf(format, args...)
	if s.T == nil {
		panic(msg)
	}
	s.T.Errorf("%s", msg)
}

// notifyLocked wakes everything waiting for a state change. s.mu is held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// newIDLocked returns a fresh identifier with the given prefix.
func (s *Server) newIDLocked(prefix string) string {
	s.ids++
	return fmt.Sprintf("%s%06d", prefix, s.ids)
}

// User is a member of the workspace.
type User struct {
	ID       string
	Name     string
	RealName string
	Email    string
	IsBot    bool
}

// AddUser registers a user. The bot user is registered already.
func (s *Server) AddUser(u User) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := u
	s.users[u.ID] = &cp
}

// AddUserGroup registers a user group (an id like S0123) and its members.
func (s *Server) AddUserGroup(id string, members ...string) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = append([]string(nil), members...)
}

// AddChannel registers a channel and its members. The bot can post only
// where it is a member: list s.BotUserID (or call AddBotToChannel).
func (s *Server) AddChannel(id, name string, members ...string) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := &channel{id: id, name: name, members: map[string]bool{}, byTS: map[string]*message{}}
	for _, m := range members {
		ch.members[m] = true
	}
	s.channels[id] = ch
}

// AddBotToChannel makes the bot a member of a registered channel.
func (s *Server) AddBotToChannel(id string) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[id]
	if !ok {
		panic("slacktest: AddBotToChannel: unknown channel " + id)
	}
	ch.members[s.BotUserID] = true
}

// displayNameLocked is how a person sees who said something.
func (s *Server) displayNameLocked(m *message) string {
	if m.username != "" {
		return m.username
	}
	if u, ok := s.users[m.user]; ok {
		return u.Name
	}
	if m.user != "" {
		return m.user
	}
	return "unknown"
}

func looksLikeTS(ts string) bool {
	sec, frac, ok := strings.Cut(ts, ".")
	return ok && sec != "" && frac != "" && strings.Trim(sec, "0123456789") == "" && strings.Trim(frac, "0123456789") == ""
}
