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

// TestLeaseOfAnotherIncarnationOfTheSameName: name#incarnation takes a
// lease from another incarnation of its name at once, and from nobody
// else; an owner without an incarnation keeps the plain rule.
func TestLeaseOfAnotherIncarnationOfTheSameName(t *testing.T) {
	ctx := ctxT(t)
	s := newStore(t, redistest.New(t).Client(), state.Options{})
	if ok, err := s.Claim(ctx, "run-1", "bot-0#a", time.Minute); err != nil || !ok {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	for _, owner := range []string{"bot-1#b", "bot-0", "bot-0x#b", "bot#b", "#b"} {
		if ok, err := s.Claim(ctx, "run-1", owner, time.Minute); err != nil || ok {
			t.Errorf("%s took bot-0#a's lease (%v)", owner, err)
		}
	}
	if ok, err := s.Claim(ctx, "run-1", "bot-0#b", time.Minute); err != nil || !ok {
		t.Fatalf("bot-0's next incarnation: %v, %v; want the lease at once", ok, err)
	}
	// A holder named by the name alone is the same process too.
	if ok, err := s.Claim(ctx, "run-2", "bot-0", time.Minute); err != nil || !ok {
		t.Fatalf("claim as bot-0: %v, %v", ok, err)
	}
	if ok, err := s.Claim(ctx, "run-2", "bot-0#b", time.Minute); err != nil || !ok {
		t.Fatalf("bot-0#b after bot-0: %v, %v; want the lease at once", ok, err)
	}
	if err := s.Release(ctx, "run-1", "bot-0#a"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Claim(ctx, "run-1", "bot-1#c", time.Minute); err != nil || ok {
		t.Errorf("the old incarnation's release freed bot-0#b's lease (%v)", err)
	}
}

// TestOwnerNameHasOneHolder: the newest incarnation takes the name and
// learns who held it; the one it took it from cannot renew it.
func TestOwnerNameHasOneHolder(t *testing.T) {
	ctx := ctxT(t)
	s := newStore(t, redistest.New(t).Client(), state.Options{})
	if prev, err := s.TakeName(ctx, "bot-0", "a", time.Minute); err != nil || prev != "" {
		t.Fatalf("first take: %q, %v", prev, err)
	}
	if ok, err := s.RenewName(ctx, "bot-0", "a", time.Minute); err != nil || !ok {
		t.Fatalf("renew by its holder: %v, %v", ok, err)
	}
	if prev, err := s.TakeName(ctx, "bot-0", "b", time.Minute); err != nil || prev != "a" {
		t.Fatalf("take by the next incarnation: %q, %v; want a", prev, err)
	}
	if ok, err := s.RenewName(ctx, "bot-0", "a", time.Minute); err != nil || ok {
		t.Errorf("the superseded incarnation renewed the name (%v)", err)
	}
	if err := s.ReleaseName(ctx, "bot-0", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseName(ctx, "bot-0", "b"); err != nil {
		t.Fatal(err)
	}
	if prev, err := s.TakeName(ctx, "bot-0", "c", time.Minute); err != nil || prev != "" {
		t.Errorf("after its holder let go, the name was held by %q (%v)", prev, err)
	}
	if _, err := s.TakeName(ctx, "", "c", time.Minute); err == nil {
		t.Error("an empty name was taken")
	}
}
