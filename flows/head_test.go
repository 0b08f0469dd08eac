package flows_test

import (
	"context"
	"testing"

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
