package state_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// storeCalls is one call of every kind the Store makes, on run-1 (which
// the test created) and on a new run-2 and offer-2 (which it did not).
func storeCalls(s *state.Store, run *flows.Run) map[string]func() error {
	ctx := context.Background()
	return map[string]func() error{
		"CreateRun":     func() error { return s.CreateRun(ctx, newRun("run-2", testKey(2))) },
		"Run":           func() error { _, err := s.Run(ctx, "run-1"); return err },
		"ActiveRun":     func() error { _, err := s.ActiveRun(ctx, testKey(1)); return err },
		"UpdateRun":     func() error { return s.UpdateRun(ctx, run) },
		"ActiveRuns":    func() error { _, err := s.ActiveRuns(ctx); return err },
		"RunsInThread":  func() error { _, err := s.RunsInThread(ctx, "C0ALERTS", "1741944413.000100"); return err },
		"Claim":         func() error { _, err := s.Claim(ctx, "run-1", "me", time.Minute); return err },
		"Release":       func() error { return s.Release(ctx, "run-1", "me") },
		"Audit":         func() error { return s.Audit(ctx, flows.AuditEntry{RunID: "run-1", At: t0, Action: "x"}) },
		"AuditTrail":    func() error { _, err := s.AuditTrail(ctx, "run-1"); return err },
		"CreateOffer":   func() error { return s.CreateOffer(ctx, newOffer("offer-2", "C0ALERTS", "2.2", testKey(2))) },
		"Offer":         func() error { _, err := s.Offer(ctx, "offer-1"); return err },
		"OfferForAlert": func() error { _, err := s.OfferForAlert(ctx, "C0ALERTS", "1.1"); return err },
		"OfferForKey":   func() error { _, err := s.OfferForKey(ctx, testKey(1)); return err },
		"UpdateOffer": func() error {
			o := newOffer("offer-1", "C0ALERTS", "1.1", testKey(1))
			o.Version = 1
			return s.UpdateOffer(ctx, o)
		},
		"Once": func() error { _, err := s.Once(ctx, "envelope-2", 0); return err },
	}
}

// TestRedisRestartedMidTest: while Redis is down every call fails fast
// with ErrUnavailable and writes nothing; when it is back (with its script
// cache empty) the same Store carries on.
func TestRedisRestartedMidTest(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	s := newStore(t, tunedClient(t, srv.Addr()), state.Options{})
	run := newRun("run-1", testKey(1))
	if err := s.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOffer(ctx, newOffer("offer-1", "C0ALERTS", "1.1", testKey(1))); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	var slowest time.Duration
	for name, call := range storeCalls(s, run) {
		start := time.Now()
		err := call()
		took := time.Since(start)
		slowest = max(slowest, took)
		if !errors.Is(err, flows.ErrUnavailable) {
			t.Errorf("%s with Redis down: %v, want ErrUnavailable", name, err)
		}
		if took > 500*time.Millisecond {
			t.Errorf("%s with Redis down took %v; a refused connection should fail at once", name, took)
		}
	}
	t.Logf("slowest call with Redis down: %v", slowest)
	if run.Version != 1 {
		t.Fatalf("a failed UpdateRun left version %d, want 1", run.Version)
	}

	srv.Start()
	waitAvailable(t, s)
	run.Reason = "after the restart"
	if err := s.UpdateRun(ctx, run); err != nil {
		t.Fatalf("UpdateRun after Redis came back: %v", err)
	}
	got, err := s.Run(ctx, "run-1")
	if err != nil || got.Version != 2 || got.Reason != "after the restart" {
		t.Fatalf("Run after the restart = %+v, %v", got, err)
	}
	// The calls that failed left nothing behind.
	if _, err := s.Run(ctx, "run-2"); !errors.Is(err, flows.ErrRunNotFound) {
		t.Errorf("run-2, created while Redis was down: %v, want ErrRunNotFound", err)
	}
	if _, err := s.ActiveRun(ctx, testKey(2)); !errors.Is(err, flows.ErrRunNotFound) {
		t.Errorf("run-2's key is locked: %v", err)
	}
	if _, err := s.Offer(ctx, "offer-2"); !errors.Is(err, flows.ErrOfferNotFound) {
		t.Errorf("offer-2, created while Redis was down: %v, want ErrOfferNotFound", err)
	}
	if first, err := s.Once(ctx, "envelope-2", 0); err != nil || !first {
		t.Errorf("Once after the restart = %v, %v; want a first sighting", first, err)
	}

	// A restart that loses everything (no persistence) is survived too.
	srv.Flush()
	srv.Stop()
	srv.Start()
	waitAvailable(t, s)
	if err := s.CreateRun(ctx, newRun("run-3", testKey(3))); err != nil {
		t.Fatalf("CreateRun on an emptied Redis: %v", err)
	}
}

// waitAvailable waits until the Store answers again. go-redis stops
// dialling a server that refused it several times and probes it once a
// second instead, so recovery takes up to about a second.
func waitAvailable(t *testing.T, s *state.Store) {
	t.Helper()
	start := time.Now()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := s.Run(context.Background(), "run-1")
		if err == nil || !errors.Is(err, flows.ErrUnavailable) {
			t.Logf("store answered again %v after Redis did", time.Since(start))
			return
		}
		select {
		case <-deadline:
			t.Fatalf("store still unavailable 10s after Redis came back: %v", err)
		case <-tick.C:
		}
	}
}

func tunedClient(t *testing.T, addr string) redis.UniversalClient {
	o := &redis.UniversalOptions{Addrs: []string{addr}}
	state.TuneClient(o)
	c := redis.NewUniversalClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestHungRedisFailsWithinOpTimeout: a server that accepts connections and
// never answers (a partition, a frozen host) costs a caller OpTimeout, not
// the client's longer socket timeouts.
func TestHungRedisFailsWithinOpTimeout(t *testing.T) {
	const opTimeout = 300 * time.Millisecond
	s := newStore(t, tunedClient(t, blackHole(t)), state.Options{OpTimeout: opTimeout})
	run := newRun("run-1", testKey(1))
	run.Version = 1
	var wg sync.WaitGroup
	for name, call := range storeCalls(s, run) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := call()
			took := time.Since(start)
			if !errors.Is(err, flows.ErrUnavailable) {
				t.Errorf("%s against a hung server: %v, want ErrUnavailable", name, err)
			}
			if took > opTimeout+time.Second {
				t.Errorf("%s against a hung server took %v, want about %v", name, took, opTimeout)
			}
		}()
	}
	wg.Wait()
}

// blackHole listens on loopback, accepts, and never reads or writes.
func blackHole(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
