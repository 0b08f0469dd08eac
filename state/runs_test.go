package state_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

func TestCreateRunStoresLockAndIndexes(t *testing.T) {
	ctx := ctxT(t)
	s, raw, _ := realStore(t)
	run := newRun("run-1", testKey(1))
	if err := s.CreateRun(ctx, run); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	if run.Version != 1 || run.Schema != flows.Schema {
		t.Fatalf("after CreateRun version %d schema %d, want 1 and %d", run.Version, run.Schema, flows.Schema)
	}
	got, err := s.Run(ctx, "run-1")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !reflect.DeepEqual(got, run) {
		t.Fatalf("Run returned\n%+v\nwant\n%+v", got, run)
	}
	act, err := s.ActiveRun(ctx, testKey(1))
	if err != nil || act.ID != "run-1" {
		t.Fatalf("ActiveRun = %v, %v; want run-1", act, err)
	}
	ids, err := s.RunsInThread(ctx, run.Thread.Channel, run.Thread.TS)
	if err != nil || !reflect.DeepEqual(ids, []string{"run-1"}) {
		t.Fatalf("RunsInThread = %q, %v; want [run-1]", ids, err)
	}
	// An active run and its indexes never expire.
	for _, k := range allKeys(t, raw) {
		if ttl := raw.PTTL(ctx, k).Val(); ttl != -1 {
			t.Errorf("key %s of an active run has ttl %v, want none", k, ttl)
		}
	}
	if _, err := s.Run(ctx, "run-2"); !errors.Is(err, flows.ErrRunNotFound) {
		t.Errorf("Run(run-2) = %v, want ErrRunNotFound", err)
	}
	if _, err := s.ActiveRun(ctx, testKey(2)); !errors.Is(err, flows.ErrRunNotFound) {
		t.Errorf("ActiveRun(other key) = %v, want ErrRunNotFound", err)
	}
	again := newRun("run-1", testKey(2))
	if err := s.CreateRun(ctx, again); !errors.Is(err, flows.ErrConflict) {
		t.Errorf("CreateRun with a used id = %v, want ErrConflict", err)
	}
	if again.Version != 0 {
		t.Errorf("a refused CreateRun left version %d, want it unchanged (0)", again.Version)
	}
}

func TestConcurrentCompareAndSetHasOneWinnerPerVersion(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	const writers, rounds = 12, 20
	// Each writer has its own client, as replicas do.
	stores := make([]*state.Store, writers)
	for i := range stores {
		stores[i] = newStore(t, srv.Client(), state.Options{})
	}
	if err := stores[0].CreateRun(ctx, newRun("run-1", testKey(1))); err != nil {
		t.Fatal(err)
	}
	for r := range rounds {
		loaded := make([]*flows.Run, writers)
		for i, s := range stores {
			var err error
			if loaded[i], err = s.Run(ctx, "run-1"); err != nil {
				t.Fatal(err)
			}
		}
		errs := make([]error, writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				loaded[i].Reason = fmt.Sprintf("writer %d round %d", i, r)
				errs[i] = stores[i].UpdateRun(ctx, loaded[i])
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: writers %d and %d both won version %d", r, winner, i, r+1)
			case err == nil:
				winner = i
			case !errors.Is(err, flows.ErrConflict):
				t.Fatalf("round %d: writer %d: %v, want ErrConflict", r, i, err)
			case loaded[i].Version != int64(r+1):
				t.Fatalf("round %d: loser %d has version %d after a refused write, want %d", r, i, loaded[i].Version, r+1)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer won", r)
		}
		stored, err := stores[0].Run(ctx, "run-1")
		if err != nil {
			t.Fatal(err)
		}
		if stored.Version != int64(r+2) || stored.Reason != loaded[winner].Reason {
			t.Fatalf("round %d: stored version %d reason %q; want %d and the winner's %q",
				r, stored.Version, stored.Reason, r+2, loaded[winner].Reason)
		}
	}
}

func TestActiveRunLockIsExclusiveUnderContention(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	const racers = 12
	stores := make([]*state.Store, racers)
	for i := range stores {
		stores[i] = newStore(t, srv.Client(), state.Options{})
	}
	s := stores[0]
	// A run of another key is not in the way.
	if err := s.CreateRun(ctx, newRun("bystander", testKey(9))); err != nil {
		t.Fatal(err)
	}
	for round := range 8 {
		runs := make([]*flows.Run, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range runs {
			runs[i] = newRun(fmt.Sprintf("run-%d-%d", round, i), testKey(1))
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = stores[i].CreateRun(ctx, runs[i])
			}()
		}
		close(start)
		wg.Wait()
		var winner *flows.Run
		for i, err := range errs {
			if err == nil {
				if winner != nil {
					t.Fatalf("round %d: %s and %s both took the lock", round, winner.ID, runs[i].ID)
				}
				winner = runs[i]
			}
		}
		if winner == nil {
			t.Fatalf("round %d: nobody took the lock: %v", round, errs)
		}
		for i, err := range errs {
			if runs[i] == winner {
				continue
			}
			var are *flows.ActiveRunError
			if !errors.As(err, &are) || are.RunID != winner.ID {
				t.Fatalf("round %d: loser %s got %v, want an ActiveRunError naming %s", round, runs[i].ID, err, winner.ID)
			}
			if _, err := s.Run(ctx, runs[i].ID); !errors.Is(err, flows.ErrRunNotFound) {
				t.Fatalf("round %d: loser %s was stored: %v", round, runs[i].ID, err)
			}
		}
		active, err := s.ActiveRuns(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := runIDs(active); !reflect.DeepEqual(got, []string{"bystander", winner.ID}) {
			t.Fatalf("round %d: active runs %q, want bystander and %s", round, got, winner.ID)
		}
		winner.Phase = flows.PhaseDone
		if err := s.UpdateRun(ctx, winner); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ActiveRun(ctx, testKey(1)); !errors.Is(err, flows.ErrRunNotFound) {
			t.Fatalf("round %d: after the run ended ActiveRun = %v, want ErrRunNotFound", round, err)
		}
	}
}

func TestEndedRunExpiresWithItsIndexesAndStaysEnded(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	raw := srv.Client()
	const retention = time.Hour
	s := newStore(t, srv.Client(), state.Options{Retention: retention})
	a, b := newRun("run-a", testKey(1)), newRun("run-b", testKey(2)) // one thread
	for _, r := range []*flows.Run{a, b} {
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Audit(ctx, flows.AuditEntry{RunID: "run-a", At: t0, Actor: "U1", Action: "approve", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	a.Phase, a.EndedAt = flows.PhaseDone, t0.Add(time.Minute)
	if err := s.UpdateRun(ctx, a); err != nil {
		t.Fatal(err)
	}
	assertTTL(t, raw, "stb:{stb}:run:run-a", retention)
	assertTTL(t, raw, "stb:{stb}:audit:run-a", retention)
	if n := raw.Exists(ctx, "stb:{stb}:lock:production:api-user-1@digital.cabinet-office.gov.uk:publishing-api").Val(); n != 0 {
		t.Error("the ended run's lock is still there")
	}
	if ttl := raw.PTTL(ctx, "stb:{stb}:thread:C0ALERTS:1741944413.000100").Val(); ttl != -1 {
		t.Errorf("thread index has ttl %v while run-b in it is active, want none", ttl)
	}

	// An ended run cannot come back, and the refusal writes nothing.
	before := raw.Get(ctx, "stb:{stb}:run:run-a").Val()
	a.Phase = flows.PhaseRunning
	if err := s.UpdateRun(ctx, a); !errors.Is(err, flows.ErrConflict) {
		t.Fatalf("reactivating an ended run: %v, want ErrConflict", err)
	}
	if after := raw.Get(ctx, "stb:{stb}:run:run-a").Val(); after != before {
		t.Fatal("a refused reactivation changed the record")
	}
	if _, err := s.ActiveRun(ctx, testKey(1)); !errors.Is(err, flows.ErrRunNotFound) {
		t.Fatalf("a refused reactivation took the lock: %v", err)
	}

	b.Phase = flows.PhaseCancelled
	if err := s.UpdateRun(ctx, b); err != nil {
		t.Fatal(err)
	}
	// A late entry on an ended run's trail does not outlive the run.
	if err := s.Audit(ctx, flows.AuditEntry{RunID: "run-b", At: t0, Actor: "bot", Action: "note"}); err != nil {
		t.Fatal(err)
	}
	// Nothing is left without a ttl once no run is active.
	for _, k := range allKeys(t, raw) {
		if ttl := raw.PTTL(ctx, k).Val(); ttl <= 0 || ttl > retention {
			t.Errorf("key %s has ttl %v, want (0, %v]", k, ttl, retention)
		}
	}
	// Finished runs still load, for the audit trail.
	if got, err := s.Run(ctx, "run-a"); err != nil || got.Phase != flows.PhaseDone {
		t.Fatalf("Run(run-a) = %v, %v", got, err)
	}
}

func TestRunKeyAndThreadAreFixed(t *testing.T) {
	ctx := ctxT(t)
	s, raw, _ := realStore(t)
	run := newRun("run-1", testKey(1))
	run.Thread = flows.Thread{} // the status message is not posted yet
	if err := s.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	run.Thread = flows.Thread{Channel: "C0OPS", TS: "1.5"}
	if err := s.UpdateRun(ctx, run); err != nil {
		t.Fatalf("setting the thread: %v", err)
	}
	if ids, err := s.RunsInThread(ctx, "C0OPS", "1.5"); err != nil || !reflect.DeepEqual(ids, []string{"run-1"}) {
		t.Fatalf("RunsInThread = %q, %v; want [run-1]", ids, err)
	}
	before := raw.Get(ctx, "stb:{stb}:run:run-1").Val()
	moved := *run
	moved.Thread = flows.Thread{Channel: "C0OPS", TS: "2.5"}
	if err := s.UpdateRun(ctx, &moved); !errors.Is(err, flows.ErrBadInput) {
		t.Errorf("moving the thread: %v, want ErrBadInput", err)
	}
	rekeyed := *run
	rekeyed.Key = testKey(2)
	if err := s.UpdateRun(ctx, &rekeyed); !errors.Is(err, flows.ErrBadInput) {
		t.Errorf("changing the key: %v, want ErrBadInput", err)
	}
	if after := raw.Get(ctx, "stb:{stb}:run:run-1").Val(); after != before {
		t.Error("a refused update changed the record")
	}
	if _, err := s.ActiveRun(ctx, testKey(2)); !errors.Is(err, flows.ErrRunNotFound) {
		t.Errorf("a refused key change took the other key's lock: %v", err)
	}
}

func TestResumeListsEveryActiveRun(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	raw := srv.Client()
	s := newStore(t, srv.Client(), state.Options{})
	var want []*flows.Run
	for i := range 50 {
		r := newRun(fmt.Sprintf("run-%02d", i), testKey(i))
		r.CreatedAt = t0.Add(time.Duration(50-i) * time.Minute) // listed oldest first, so backwards
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if i%5 < 2 {
			r.Phase = flows.PhaseFailed
			if err := s.UpdateRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if i%5 == 2 {
			r.Phase, r.Gate = flows.PhasePaused, &flows.Gate{ID: "g", Kind: flows.GateRecover}
			if err := s.UpdateRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		want = append([]*flows.Run{r}, want...)
	}
	// A bot that starts afresh, on a new connection, finds them all.
	restarted := newStore(t, srv.Client(), state.Options{})
	got, err := restarted.ActiveRuns(ctx)
	if err != nil {
		t.Fatalf("ActiveRuns: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ActiveRuns listed %q, want %q (or the records differ)", runIDs(got), runIDs(want))
	}

	// A record that does not decode is reported, not dropped, and the
	// others are still listed.
	if err := raw.Set(ctx, "stb:{stb}:run:run-03", "{not json", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err = restarted.ActiveRuns(ctx)
	var ce *flows.CorruptError
	if !errors.As(err, &ce) || ce.Key != "stb:{stb}:run:run-03" {
		t.Fatalf("ActiveRuns with a corrupt record: %v, want a CorruptError for run-03", err)
	}
	if len(got) != len(want)-1 {
		t.Fatalf("ActiveRuns with a corrupt record listed %d runs, want %d", len(got), len(want)-1)
	}
}

func TestStaleLockIsTakenOver(t *testing.T) {
	ctx := ctxT(t)
	s, raw, _ := realStore(t)
	if err := s.CreateRun(ctx, newRun("gone", testKey(1))); err != nil {
		t.Fatal(err)
	}
	// An operator deleted the record, or memory pressure evicted it.
	raw.Del(ctx, "stb:{stb}:run:gone")
	if err := s.CreateRun(ctx, newRun("next", testKey(1))); err != nil {
		t.Fatalf("CreateRun over a lock whose run is gone: %v", err)
	}
	active, err := s.ActiveRuns(ctx)
	if err != nil || !reflect.DeepEqual(runIDs(active), []string{"next"}) {
		t.Fatalf("ActiveRuns = %q, %v; want [next]", runIDs(active), err)
	}
}

func runIDs(runs []*flows.Run) []string {
	ids := []string{}
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

// assertTTL checks that key expires within want, and not much sooner.
func assertTTL(t *testing.T, raw *redis.Client, key string, want time.Duration) {
	t.Helper()
	ttl := raw.PTTL(ctxT(t), key).Val()
	if ttl > want || ttl < want-time.Minute {
		t.Errorf("key %s has ttl %v, want about %v", key, ttl, want)
	}
}

// allKeys lists the keys of a test server, as only a test may.
func allKeys(t testing.TB, raw *redis.Client) []string {
	t.Helper()
	var ks []string
	iter := raw.Scan(ctxT(t), 0, "*", 100).Iterator()
	for iter.Next(ctxT(t)) {
		ks = append(ks, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return ks
}

// TestActiveRunsSkipsARunThatEndsWhileListing ends a run between the
// listing's SMEMBERS and its MGETs, which a hook makes happen every time.
func TestActiveRunsSkipsARunThatEndsWhileListing(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	other := newStore(t, srv.Client(), state.Options{})
	a, b := newRun("run-a", testKey(1)), newRun("run-b", testKey(2))
	for _, r := range []*flows.Run{a, b} {
		if err := other.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	rdb := srv.Client()
	rdb.AddHook(beforeMGet(func() {
		a.Phase = flows.PhaseDone
		if err := other.UpdateRun(ctx, a); err != nil {
			t.Error(err)
		}
	}))
	runs, err := newStore(t, rdb, state.Options{}).ActiveRuns(ctx)
	if err != nil || !reflect.DeepEqual(runIDs(runs), []string{"run-b"}) {
		t.Fatalf("ActiveRuns = %q, %v; want only run-b, still active", runIDs(runs), err)
	}
}

// beforeMGet is a go-redis hook that calls f once, before the first
// MGET is sent, on its own or in a pipeline.
type beforeMGet func()

func (f beforeMGet) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f beforeMGet) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	hooked := f.ProcessPipelineHook(func(ctx context.Context, cmds []redis.Cmder) error { return next(ctx, cmds[0]) })
	return func(ctx context.Context, cmd redis.Cmder) error { return hooked(ctx, []redis.Cmder{cmd}) }
}

func (f beforeMGet) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	var once sync.Once
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "mget" {
			once.Do(f)
		}
		return next(ctx, cmds)
	}
}
