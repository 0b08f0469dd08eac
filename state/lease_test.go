package state_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

func TestLeaseHasOneHolder(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	raw := srv.Client()
	const replicas = 12
	stores := make([]*state.Store, replicas)
	for i := range stores {
		stores[i] = newStore(t, srv.Client(), state.Options{})
	}
	won := make([]bool, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var err error
			if won[i], err = s.Claim(ctx, "run-1", fmt.Sprintf("replica-%d", i), time.Minute); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	holder := -1
	for i, w := range won {
		if w {
			if holder >= 0 {
				t.Fatalf("replicas %d and %d both hold the lease", holder, i)
			}
			holder = i
		}
	}
	if holder < 0 {
		t.Fatal("nobody holds the lease")
	}
	owner, other := fmt.Sprintf("replica-%d", holder), "replica-x"
	s := stores[0]

	// The holder renews; the ttl starts again.
	if ok, err := s.Claim(ctx, "run-1", owner, time.Hour); !ok || err != nil {
		t.Fatalf("renewal by the holder = %v, %v", ok, err)
	}
	assertTTL(t, raw, "stb:lease:run-1", time.Hour)
	// Another's Release does nothing.
	if err := s.Release(ctx, "run-1", other); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Claim(ctx, "run-1", other, time.Minute); ok {
		t.Fatal("a Release by a non-holder freed the lease")
	}
	if err := s.Release(ctx, "run-1", owner); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Claim(ctx, "run-1", other, time.Minute); !ok {
		t.Fatal("the lease was not free after its holder released it")
	}
}

// TestLeaseOfACrashedHolderLapses uses miniredis, whose clock a test can
// move.
func TestLeaseOfACrashedHolderLapses(t *testing.T) {
	ctx := ctxT(t)
	m := redistest.NewMini(t)
	s := newStore(t, m.Client(), state.Options{})
	if ok, err := s.Claim(ctx, "run-1", "crashed", 30*time.Second); !ok || err != nil {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	m.FastForward(29 * time.Second)
	if ok, _ := s.Claim(ctx, "run-1", "survivor", 30*time.Second); ok {
		t.Fatal("the lease lapsed early")
	}
	m.FastForward(2 * time.Second)
	if ok, _ := s.Claim(ctx, "run-1", "survivor", 30*time.Second); !ok {
		t.Fatal("the lease of a crashed holder did not lapse")
	}
}
