package flows_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
)

// TestSweepReadsParkedRunsHeads: a sweep, at start-up or later, reads the
// heads of runs parked at a gate, not their records; a run it has work
// for, it loads whole.
func TestSweepReadsParkedRunsHeads(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	a, _ := e.engine("replica-a", nil)
	run := start(t, a, flows.ModeRotate)
	waitFor(t, a, run.ID, "the sync gate, its thread up to date", func(r *flows.Run) bool {
		if _, ok := r.Receipts[flows.StatusPostID]; !ok || !atGate(flows.GateSync)(r) {
			return false
		}
		for _, p := range r.Posts {
			if _, ok := r.Receipts[p.ID]; !ok {
				return false
			}
		}
		return true
	})

	// Replica b, and only b, reads through a store that notes what it
	// reads whole; its Run sweeps at start-up, and the test once more.
	st := &wholeReads{Store: e.store}
	b, _ := e.engine("replica-b", func(p ports, _ func()) ports { p.store = st; return p })
	if err := b.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, read := range []string{"every active run", "run " + run.ID} {
		if st.tl.index(read) >= 0 {
			t.Errorf("a sweep read %s whole", read)
		}
	}
}

// TestEverySixthSweepReadsRunsWhole: a bot from before heads adds a post
// to a run waiting at its gate and stops before the post is in Slack,
// leaving the run's head as it was (published); the sweeps of this one
// read the heads, but the sixth reads the runs whole and drives the run,
// which posts it.
func TestEverySixthSweepReadsRunsWhole(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	a, _ := e.engine("replica-a", nil)
	run := start(t, a, flows.ModeRotate)
	run = waitFor(t, a, run.ID, "the sync gate", atGate(flows.GateSync))
	leaseFree(t, e.store, run.ID) // a's drive is over
	run, err := e.store.Run(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	run.Posts = append(run.Posts, flows.Post{ID: "99-older-bot", Step: run.Step, At: run.UpdatedAt, Title: "A reminder"})
	run.Version++
	raw, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.redis.Client().Set(context.Background(), "stb:{stb}:run:"+run.ID, raw, 0).Err(); err != nil {
		t.Fatal(err)
	}

	b, _ := e.engine("replica-b", nil) // its start-up sweep
	for range 5 {
		if err := b.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, b, run.ID, "the post in Slack", func(r *flows.Run) bool { _, ok := r.Receipts["99-older-bot"]; return ok })
}

// leaseFree waits until nobody holds the run's lease.
func leaseFree(t *testing.T, st flows.Store, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		ok, err := st.Claim(ctx, id, "probe", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if err := st.Release(ctx, id, "probe"); err != nil {
				t.Fatal(err)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the lease of run %s is still held", id)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// wholeReads is the state store, noting each run it loads whole.
type wholeReads struct {
	*state.Store
	tl timeline
}

func (s *wholeReads) Run(ctx context.Context, id string) (*flows.Run, error) {
	s.tl.add("run " + id)
	return s.Store.Run(ctx, id)
}

func (s *wholeReads) ActiveRuns(ctx context.Context) ([]*flows.Run, error) {
	s.tl.add("every active run")
	return s.Store.ActiveRuns(ctx)
}
