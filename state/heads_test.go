package state_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

const heads = "stb:{stb}:heads"

// TestActiveHeadsFollowTheRuns: whatever is written, refused or ended,
// ActiveHeads lists exactly the heads of the runs ActiveRuns lists, in
// the same order, over more than one batch; an ended run leaves the
// heads. It reads the heads alone, no record.
func TestActiveHeadsFollowTheRuns(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	raw := srv.Client()
	s := newStore(t, srv.Client(), state.Options{})
	const n = 1100
	for i := range n {
		r := bigRun(fmt.Sprintf("run-%04d", i), testKey(i))
		r.CreatedAt = t0.Add(time.Duration(n-i) * time.Second)
		if i%3 == 0 {
			r.Phase, r.Step, r.Gate = flows.PhaseRunning, flows.StepSync, nil
			delete(r.Receipts, "post-3") // its thread is behind it
		}
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		switch i % 7 {
		case 1: // ends
			r.Phase = flows.PhaseDone
			if err := s.UpdateRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		case 2: // moves on, then a stale writer is refused
			stale := *r
			r.Phase, r.Step, r.Batch = flows.PhasePaused, flows.StepVerify, "b-1"
			r.Receipts["post-9"] = flows.Receipt{TS: "1741944415.000100", Digest: "d9"}
			if err := s.UpdateRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			stale.Step = flows.StepRevoke
			if err := s.UpdateRun(ctx, &stale); err == nil {
				t.Fatal("a stale write was accepted")
			}
		}
	}
	runs, err := s.ActiveRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]*flows.Head, len(runs))
	for i, r := range runs {
		want[i] = r.Head()
	}
	counted := srv.Client()
	rec := &keyRecorder{}
	counted.AddHook(rec)
	got, err := newStore(t, counted, state.Options{}).ActiveHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ActiveHeads listed %d heads (%q), want the %d runs' heads (%q), or they differ", len(got), headIDs(got), len(want), headIDs(want))
	}
	for _, g := range rec.groups {
		if g.cmd == "get" || g.cmd == "mget" {
			t.Fatalf("ActiveHeads read records: %s %q", g.cmd, g.keys)
		}
	}
	unpublished := 0
	for _, h := range got {
		if h.Unpublished {
			unpublished++
		}
		if h.Posts != nil || h.Steps != nil || h.Tokens != nil || h.Intents != nil {
			t.Fatalf("head %s carries more than the head: %+v", h.ID, h.Run)
		}
	}
	if unpublished == 0 || unpublished == len(got) {
		t.Errorf("%d of %d heads unpublished: the runs with a post missing its receipt should be, the others not", unpublished, len(got))
	}
	if hn := raw.HLen(ctx, heads).Val(); hn != int64(len(runs)) {
		t.Errorf("the heads hash holds %d heads for %d active runs: ended runs' heads are left behind", hn, len(runs))
	}
}

// TestActiveHeadsReadWhatHasNoHead: a run whose head is missing (written
// by a bot from before heads) or damaged is read whole; a corrupt record
// is reported as ActiveRuns reports it; a record that has gone with its
// head left behind is not listed.
func TestActiveHeadsReadWhatHasNoHead(t *testing.T) {
	ctx := ctxT(t)
	s, raw, _ := realStore(t)
	for i := range 5 {
		r := bigRun(fmt.Sprintf("run-%d", i), testKey(i))
		r.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	raw.HDel(ctx, heads, "run-0")
	raw.HSet(ctx, heads, "run-1", "{not json")
	raw.HSet(ctx, heads, "run-2", `{"schema":1,"id":"run-4","phase":"waiting"}`)
	runs, err := s.ActiveRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []*flows.Head
	for _, r := range runs {
		want = append(want, r.Head())
	}
	got, err := s.ActiveHeads(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ActiveHeads = %q, %v; want the heads of %q, read from their records", headIDs(got), err, runIDs(runs))
	}

	raw.Set(ctx, "stb:{stb}:run:run-0", "{not json", 0)
	raw.Del(ctx, "stb:{stb}:run:run-3")
	got, err = s.ActiveHeads(ctx)
	assertCorrupt(t, "ActiveHeads", err, "stb:{stb}:run:run-0")
	if ids := headIDs(got); !reflect.DeepEqual(ids, []string{"run-1", "run-2", "run-4"}) {
		t.Errorf("ActiveHeads listed %q, want run-1, run-2 and run-4: run-0 is corrupt, run-3 gone", ids)
	}
}

// TestHeadsOfWrongTypeWriteNothing: the scripts check the heads hash
// before their first write, as every key they touch.
func TestHeadsOfWrongTypeWriteNothing(t *testing.T) {
	ctx := ctxT(t)
	s, raw, _ := realStore(t)
	raw.Set(ctx, heads, "not a hash", 0)
	assertCorrupt(t, "CreateRun", s.CreateRun(ctx, newRun("run-1", testKey(1))), heads)
	if ks := allKeys(t, raw); len(ks) != 1 || ks[0] != heads {
		t.Fatalf("a refused CreateRun left keys %q; want only the damaged %s", ks, heads)
	}
	raw.Del(ctx, heads)
	run := newRun("run-1", testKey(1))
	if err := s.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	raw.Set(ctx, heads, "not a hash", 0)
	before := raw.Get(ctx, "stb:{stb}:run:run-1").Val()
	run.Step = flows.StepSync
	assertCorrupt(t, "UpdateRun", s.UpdateRun(ctx, run), heads)
	if after := raw.Get(ctx, "stb:{stb}:run:run-1").Val(); after != before {
		t.Error("a refused UpdateRun changed the run")
	}
}

// TestStaleLockTakesItsHeadAway: a run created over a lock whose run is
// gone leaves no head of that run behind.
func TestStaleLockTakesItsHeadAway(t *testing.T) {
	ctx := ctxT(t)
	s, raw, _ := realStore(t)
	if err := s.CreateRun(ctx, newRun("run-1", testKey(1))); err != nil {
		t.Fatal(err)
	}
	raw.Del(ctx, "stb:{stb}:run:run-1")
	if err := s.CreateRun(ctx, newRun("run-2", testKey(1))); err != nil {
		t.Fatal(err)
	}
	if got := raw.HKeys(ctx, heads).Val(); !reflect.DeepEqual(got, []string{"run-2"}) {
		t.Errorf("heads %q, want only run-2's", got)
	}
}

func headIDs(hs []*flows.Head) []string {
	ids := []string{}
	for _, h := range hs {
		ids = append(ids, h.ID)
	}
	return ids
}
