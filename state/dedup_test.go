package state_test

import (
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// TestOnceUnderReplays is Slack redelivering one envelope to every
// replica at once and then again later: it takes effect once.
func TestOnceUnderReplays(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	raw := srv.Client()
	const replicas = 16
	stores := make([]*state.Store, replicas)
	for i := range stores {
		stores[i] = newStore(t, srv.Client(), state.Options{})
	}
	for _, env := range []string{"envelope-1", "action:U1:gate-7:approve"} {
		firsts := make([]bool, replicas)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var err error
				if firsts[i], err = s.Once(ctx, env, 0); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		n := 0
		for _, f := range firsts {
			if f {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s delivered to %d replicas at once took effect %d times, want 1", env, replicas, n)
		}
		for i := range 3 { // the redeliveries
			if first, err := stores[i].Once(ctx, env, time.Minute); err != nil || first {
				t.Fatalf("replay %d of %s: first=%v, %v; want false", i, env, first, err)
			}
		}
		if ttl := raw.PTTL(ctx, "stb:once:"+env).Val(); ttl < state.MinOnceTTL-time.Minute {
			t.Fatalf("%s is remembered for %v, want at least %v", env, ttl, state.MinOnceTTL)
		}
	}
	if first, _ := stores[0].Once(ctx, "long", 3*time.Hour); !first {
		t.Fatal("a new key was not first")
	}
	assertTTL(t, raw, "stb:once:long", 3*time.Hour)
}

// TestOnceForgetsAfterItsTTL uses miniredis, whose clock a test can move.
func TestOnceForgetsAfterItsTTL(t *testing.T) {
	ctx := ctxT(t)
	m := redistest.NewMini(t)
	s := newStore(t, m.Client(), state.Options{})
	if first, err := s.Once(ctx, "envelope-1", time.Second); err != nil || !first {
		t.Fatalf("Once = %v, %v; want true", first, err)
	}
	m.FastForward(state.MinOnceTTL - time.Second)
	if first, _ := s.Once(ctx, "envelope-1", time.Second); first {
		t.Fatal("forgotten before MinOnceTTL, though the caller asked for 1s")
	}
	m.FastForward(2 * time.Second)
	if first, _ := s.Once(ctx, "envelope-1", time.Second); !first {
		t.Fatal("still remembered after MinOnceTTL")
	}
}
