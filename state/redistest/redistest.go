// Package redistest gives a test its own Redis: a real redis-server
// (New, NewCluster), which is what the state package's guarantees are
// tested against, or miniredis (NewMini) for fast unit tests.
//
// A real server needs SIGNON_BOT_REDIS_SERVER, the path to redis-server,
// which `make test` exports. Without it the test is skipped, or fails when
// CI=true, so that CI cannot pass by skipping.
//
// Servers listen on 127.0.0.1 only, keep their files in a temporary
// directory, never save on their own, and are killed when the test ends.
//
//	srv := redistest.New(t)
//	store, err := state.New(srv.Client(), state.Options{})
//	...
//	srv.Stop()  // an outage: calls fail with flows.ErrUnavailable
//	srv.Start() // Redis is back, with the same data, on the same address
package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// EnvServer names the variable that holds the path to redis-server.
const EnvServer = "SIGNON_BOT_REDIS_SERVER"

// Server is one Redis for one test.
type Server struct {
	t    testing.TB
	addr string
	// Exactly one of node and mini is set.
	node *node
	mini *miniredis.Miniredis
}

// New starts a real redis-server and returns once it answers PING.
func New(t testing.TB) *Server {
	t.Helper()
	n := startNode(t, binary(t), t.TempDir(), nil)
	return &Server{t: t, addr: n.addr, node: n}
}

// NewMini starts a miniredis. It behaves like New for Client, Flush, Stop
// and Start, and lacks what miniredis lacks (real networking faults,
// persistence, Cluster).
func NewMini(t testing.TB) *Server {
	t.Helper()
	m := miniredis.RunT(t)
	return &Server{t: t, addr: m.Addr(), mini: m}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Client returns a new client of the server, closed when the test ends.
// It is tuned as state.TuneClient tunes the bot's: calls are bounded by
// their context and a refused connection fails at once, so a test of an
// outage fails fast instead of hanging.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(clientOptions(s.addr))
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

func clientOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            1,
		DialerRetries:         1,
	}
}

// Flush deletes every key.
func (s *Server) Flush() {
	s.t.Helper()
	if s.mini != nil {
		s.mini.FlushAll()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	c := redis.NewClient(clientOptions(s.addr))
	defer c.Close()
	if err := c.FlushAll(ctx).Err(); err != nil {
		s.t.Fatalf("redistest: flush %s: %v", s.addr, err)
	}
}

// Stop shuts the server down as a planned restart of a persistent Redis
// would: it saves the data into its directory first, so Start brings it
// back with the same keys. Clients see connections refused until Start.
// Call Flush first to restart empty.
func (s *Server) Stop() {
	s.t.Helper()
	if s.mini != nil {
		s.mini.Close()
		return
	}
	s.node.stop(s.t)
}

// Start starts a stopped server again on the same address and returns
// once it answers PING.
func (s *Server) Start() {
	s.t.Helper()
	if s.mini != nil {
		if err := s.mini.Restart(); err != nil {
			s.t.Fatalf("redistest: restart miniredis on %s: %v", s.addr, err)
		}
		return
	}
	s.node.start(s.t)
}

// FastForward moves a miniredis's clock, expiring keys as time would. A
// real server's clock cannot be moved: the test fails.
func (s *Server) FastForward(d time.Duration) {
	s.t.Helper()
	if s.mini == nil {
		s.t.Fatal("redistest: FastForward needs NewMini; a real redis-server keeps real time")
	}
	s.mini.FastForward(d)
}
