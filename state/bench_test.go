package state_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// Each benchmark runs the Store and a bare baseline side by side on the
// same server and data, so the figures compare as ratios. roundtrips/op
// counts commands and pipelines sent, as a go-redis hook sees them.

// BenchmarkRunStep is what a replica does for one step of a run: load
// it, renew its lease, write the step's result, audit it. The baseline
// does the same reads and writes as bare GET, SET NX PX, SET and XADD,
// without versions, locks, indexes or checks.
func BenchmarkRunStep(b *testing.B) {
	srv := redistest.New(b)
	s, rt := countingStore(b, srv)
	ctx := context.Background()
	run := bigRun("run-1", testKey(1))
	if err := s.CreateRun(ctx, run); err != nil {
		b.Fatal(err)
	}
	entry := flows.AuditEntry{RunID: "run-1", At: t0, Actor: "U0APPROVER", Action: "sync", Outcome: "ok", Detail: "job created"}
	b.Run("store", func(b *testing.B) {
		measure(b, rt, func() {
			r, err := s.Run(ctx, "run-1")
			if err != nil {
				b.Fatal(err)
			}
			if ok, err := s.Claim(ctx, "run-1", "replica-1", time.Minute); !ok || err != nil {
				b.Fatal(ok, err)
			}
			r.UpdatedAt = r.UpdatedAt.Add(time.Second)
			if err := s.UpdateRun(ctx, r); err != nil {
				b.Fatal(err)
			}
			if err := s.Audit(ctx, entry); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("baseline", func(b *testing.B) {
		rdb := counted(srv, rt)
		raw, _ := json.Marshal(run)
		measure(b, rt, func() {
			got, err := rdb.Get(ctx, "bare:run").Bytes()
			if err != nil && err != redis.Nil {
				b.Fatal(err)
			}
			var r flows.Run
			if got != nil {
				if err := json.Unmarshal(got, &r); err != nil {
					b.Fatal(err)
				}
			}
			rdb.SetNX(ctx, "bare:lease", "replica-1", time.Minute)
			rdb.Set(ctx, "bare:run", raw, 0)
			rdb.XAdd(ctx, &redis.XAddArgs{Stream: "bare:audit", Values: []any{"run", entry.RunID,
				"at", entry.At.Format(time.RFC3339Nano), "actor", entry.Actor, "action", entry.Action,
				"outcome", entry.Outcome, "detail", entry.Detail}})
		})
	})
}

// BenchmarkActiveRuns lists 10,000 active runs, whole and by their heads
// (what a sweep reads). The baselines fetch the same records with a bare
// pipeline of GETs, given the ids, without and with decoding them.
func BenchmarkActiveRuns(b *testing.B) {
	const n = 10_000
	srv := redistest.New(b)
	s, rt := countingStore(b, srv)
	ctx := context.Background()
	if raw, err := json.Marshal(bigRun("run-00000", testKey(0))); err == nil {
		b.Logf("one run is %d bytes of JSON", len(raw))
	}
	ids := make([]string, n)
	for i := range n {
		r := bigRun(fmt.Sprintf("run-%05d", i), testKey(i))
		r.Thread.TS = fmt.Sprintf("1741944413.%06d", i)
		if err := s.CreateRun(ctx, r); err != nil {
			b.Fatal(err)
		}
		ids[i] = r.ID
	}
	// The baselines' one pipeline is read under one deadline: the test
	// client's second is too short for 30 MB on a busy machine.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	b.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(rt)
	bare := func(decode bool) {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.StringCmd, n)
		for i, id := range ids {
			cmds[i] = pipe.Get(ctx, "stb:{stb}:run:"+id)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		if decode {
			for _, c := range cmds {
				var r flows.Run
				if err := json.Unmarshal([]byte(c.Val()), &r); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("store", func(b *testing.B) {
		measure(b, rt, func() {
			runs, err := s.ActiveRuns(ctx)
			if err != nil || len(runs) != n {
				b.Fatal(len(runs), err)
			}
		})
	})
	b.Run("heads", func(b *testing.B) {
		measure(b, rt, func() {
			heads, err := s.ActiveHeads(ctx)
			if err != nil || len(heads) != n {
				b.Fatal(len(heads), err)
			}
		})
	})
	b.Run("baseline-get", func(b *testing.B) { measure(b, rt, func() { bare(false) }) })
	b.Run("baseline-get-decode", func(b *testing.B) { measure(b, rt, func() { bare(true) }) })
}

// measure runs f in the benchmark loop and reports its round trips. A
// first call outside the count opens the connections and loads the
// scripts, whose handshakes would otherwise blur the steady state.
func measure(b *testing.B, rt *roundTrips, f func()) {
	b.ReportAllocs()
	f()
	rt.n.Store(0)
	iters := 0
	for b.Loop() {
		f()
		iters++
	}
	b.ReportMetric(float64(rt.n.Load())/float64(iters), "roundtrips/op")
}

func countingStore(b *testing.B, srv *redistest.Server) (*state.Store, *roundTrips) {
	rt := &roundTrips{}
	// A long op timeout: listing 10,000 runs under a loaded benchmark
	// machine is not what this measures.
	return newStore(b, counted(srv, rt), state.Options{OpTimeout: time.Minute}), rt
}

func counted(srv *redistest.Server, rt *roundTrips) *redis.Client {
	c := srv.Client()
	c.AddHook(rt)
	return c
}

// roundTrips is a go-redis hook counting what goes to the server: one per
// command, one per pipeline.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// bigRun is a run as it is halfway through a rotation, about the size a
// real one reaches.
func bigRun(id string, key flows.Key) *flows.Run {
	r := newRun(id, key)
	for _, st := range []flows.Step{flows.StepSync, flows.StepVerify, flows.StepRevoke, flows.StepDone} {
		r.Steps = append(r.Steps, flows.StepState{Step: st, Status: flows.StepPending})
	}
	for i := range 4 {
		r.Posts = append(r.Posts, flows.Post{ID: fmt.Sprint("post-", i), Step: flows.StepInspect, At: t0,
			Title: "Inspected the token", Lines: []string{"Last synced 2 hours ago", "Secret `signon-token-publisher-publishing-api`"},
			Code: []string{"Updated secret signon-token-publisher-publishing-api in namespace apps"}})
		r.Receipts[fmt.Sprint("post-", i)] = flows.Receipt{TS: "1741944414.000300", Digest: "9f86d081884c7d65"}
	}
	r.Checks = []flows.PodCheck{{Pod: "publisher-6d4f-abcde", Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN", Match: true}}
	return r
}
