package flows_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

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

	// Replica b, and only b, reads through a client that notes what it
	// reads; its Run sweeps at start-up, and the test sweeps once more.
	rdb := e.redis.Client()
	reads := &runReads{}
	rdb.AddHook(reads)
	st, err := state.New(rdb, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.engine("replica-b", func(p ports, _ func()) ports { p.store = st; return p })
	if err := b.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := reads.records(); len(got) > 0 {
		t.Errorf("a sweep read parked runs' records: %q", got)
	}
}

// runReads is a go-redis hook that notes the run records read (GET, MGET).
type runReads struct {
	mu   sync.Mutex
	keys []string
}

func (r *runReads) records() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.keys)
}

func (r *runReads) note(cmd redis.Cmder) {
	if n := cmd.Name(); n != "get" && n != "mget" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range cmd.Args()[1:] {
		if k, ok := a.(string); ok && strings.Contains(k, ":run:") {
			r.keys = append(r.keys, k)
		}
	}
}

func (r *runReads) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *runReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.note(cmd)
		return next(ctx, cmd)
	}
}

func (r *runReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			r.note(c)
		}
		return next(ctx, cmds)
	}
}
