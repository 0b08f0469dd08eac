package daily_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

const day = 24 * time.Hour

// digests records the digests posted, as the channel would show them.
type digests struct {
	mu   sync.Mutex
	days []string
	// Fail fails the next post.
	Fail error
}

func (d *digests) Digest(_ context.Context, r *daily.Report) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.Fail; err != nil {
		d.Fail = nil
		return err
	}
	d.days = append(d.days, r.Environment+" "+r.Day)
	return nil
}

func (d *digests) posted() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.days...)
}

// world is one environment's Signon and one Redis that replicas share.
type world struct {
	clock   *flowstest.Clock
	signon  *signontest.Signon
	store   *state.Store
	digests *digests
}

func newWorld(t *testing.T) *world {
	t.Helper()
	srv := redistest.New(t)
	store, err := state.New(srv.Client(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := &flowstest.Clock{}
	s := signontest.New(clock)
	s.AddAPIUser("Content Tagger", "content-tagger@alphagov.co.uk")
	s.AddApplication("Publishing API")
	s.AddToken("content-tagger@alphagov.co.uk", "Publishing API", clock.Now().Add(10*day-flows.TokenLife), flows.TokenLife)
	return &world{clock: clock, signon: s, store: store, digests: &digests{}}
}

// replica is one bot replica's sweeper of "integration" at 02:00.
func (w *world) replica(t *testing.T, owner string) *daily.Sweeper {
	t.Helper()
	sched, err := daily.ParseSchedule("02:00")
	if err != nil {
		t.Fatal(err)
	}
	s, err := daily.New(daily.Config{Environment: "integration", Schedule: sched, Owner: owner},
		daily.Parts{Estate: w.signon, Store: w.store, Runs: w.store, Publisher: w.digests, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tickAll ticks every replica at once, as their loops would.
func tickAll(t *testing.T, replicas ...*daily.Sweeper) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	swept := 0
	for _, r := range replicas {
		wg.Go(func() {
			ok, err := r.Tick(t.Context())
			if err != nil {
				t.Errorf("tick: %v", err)
			}
			if ok {
				mu.Lock()
				swept++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return swept
}

// TestOnceADayAcrossTwoReplicas: two replicas tick every 20 minutes for
// four days; each day after 02:00 exactly one of them sweeps, with one
// Signon call and one digest.
func TestOnceADayAcrossTwoReplicas(t *testing.T) {
	w := newWorld(t) // 26 Nov 09:00: that day's slot has passed
	a, b := w.replica(t, "replica-a"), w.replica(t, "replica-b")
	for range 4 * 72 {
		tickAll(t, a, b)
		w.clock.Advance(20 * time.Minute)
	}
	want := []string{"integration 2026-11-26", "integration 2026-11-27", "integration 2026-11-28", "integration 2026-11-29", "integration 2026-11-30"}
	got := w.digests.posted()
	if len(got) != len(want) {
		t.Fatalf("digests %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("digest %d is for %s, want %s", i, got[i], want[i])
		}
	}
	if n := w.signon.Calls(signon.OpEstate); n != len(want) {
		t.Errorf("%d estate calls for %d sweeps", n, len(want))
	}
	last, err := a.Last(t.Context())
	if err != nil || last == nil || last.Day != "2026-11-30" || !last.Next.Equal(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("last sweep %+v (%v), want 30 Nov's with the next on 1 Dec 02:00", last, err)
	}
}

// TestARestartCatchesUpAMissedDayWithOneDigest: the bot is down over 27
// Nov's slot; the replica that starts after it sweeps for 27 Nov once,
// however often it ticks and whoever else starts that day.
func TestARestartCatchesUpAMissedDayWithOneDigest(t *testing.T) {
	w := newWorld(t)
	if n := tickAll(t, w.replica(t, "before")); n != 1 {
		t.Fatalf("the first replica swept %d times on 26 Nov", n)
	}
	w.clock.Advance(day + 12*time.Hour) // down until 27 Nov 21:00
	restarted := w.replica(t, "after")
	for range 3 {
		tickAll(t, restarted, w.replica(t, "another-restart"))
	}
	w.clock.Advance(4 * time.Hour) // 28 Nov 01:00: before the slot
	tickAll(t, restarted)
	if got := w.digests.posted(); len(got) != 2 || got[1] != "integration 2026-11-27" {
		t.Fatalf("digests %q, want 26 Nov's and one catch-up for 27 Nov", got)
	}
	w.clock.Advance(time.Hour) // 02:00
	tickAll(t, restarted)
	if got := w.digests.posted(); len(got) != 3 || got[2] != "integration 2026-11-28" {
		t.Fatalf("digests %q, want 28 Nov's at its slot", got)
	}
}

// TestAFailedSweepIsRetriedOnceItsLeaseLapses: a Signon or Slack failure
// posts nothing and records nothing; the other replica does not retry on
// its next tick but once the lease has lapsed, and then posts one digest.
func TestAFailedSweepIsRetriedOnceItsLeaseLapses(t *testing.T) {
	w := newWorld(t)
	sched, _ := daily.ParseSchedule("02:00")
	short := func(owner string) *daily.Sweeper {
		s, err := daily.New(daily.Config{Environment: "integration", Schedule: sched, Owner: owner, LeaseTTL: time.Second},
			daily.Parts{Estate: w.signon, Store: w.store, Runs: w.store, Publisher: w.digests, Clock: w.clock})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := short("a"), short("b")
	w.signon.FailNext = map[signon.Op]error{signon.OpEstate: flows.ErrUnavailable}
	if ok, err := a.Tick(t.Context()); ok || !errors.Is(err, flows.ErrUnavailable) {
		t.Fatalf("tick with Signon down: %v %v", ok, err)
	}
	if ok, err := b.Tick(t.Context()); ok || err != nil {
		t.Fatalf("the other replica swept at once (%v, %v), want it to wait for the lease", ok, err)
	}
	w.digests.Fail = errors.New("slack: ratelimited")
	deadline := time.Now().Add(10 * time.Second)
	for len(w.digests.posted()) == 0 && time.Now().Before(deadline) {
		_, _ = b.Tick(t.Context())        // the first try after the lease fails to post
		time.Sleep(50 * time.Millisecond) // poll interval, not synchronisation: the lease lapses in Redis' own time
	}
	if got := w.digests.posted(); len(got) != 1 {
		t.Fatalf("digests %q after the retries, want one", got)
	}
	if n := tickAll(t, a, b); n != 0 {
		t.Errorf("%d more sweeps of a day done", n)
	}
}
