package state_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

func TestAuditTrailIsInOrder(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	raw := srv.Client()
	// Two replicas take turns, as they would through one run.
	a := newStore(t, srv.Client(), state.Options{AuditMaxLen: 50})
	b := newStore(t, srv.Client(), state.Options{AuditMaxLen: 50})
	if err := a.CreateRun(ctx, newRun("run-1", testKey(1))); err != nil {
		t.Fatal(err)
	}
	var want []flows.AuditEntry
	for i := range 120 {
		e := flows.AuditEntry{
			RunID: "run-1", At: t0.Add(time.Duration(i) * time.Second), Actor: fmt.Sprintf("U%d", i%3),
			Action: "approve", Outcome: "ok", Detail: fmt.Sprintf("entry %d <!channel> `x`", i),
		}
		if err := []*state.Store{a, b}[i%2].Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	if err := a.Audit(ctx, flows.AuditEntry{RunID: "run-2", At: t0, Action: "refused"}); err != nil {
		t.Fatal(err)
	}
	got, err := b.AuditTrail(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("trail has %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if i > 0 && !streamIDLess(got[i-1].ID, got[i].ID) {
			t.Fatalf("entry ids out of order: %s then %s", got[i-1].ID, got[i].ID)
		}
		want[i].ID = got[i].ID
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("trail differs from what was written:\n%+v\nwant\n%+v", got[:2], want[:2])
	}
	// The global stream has every run's entries, capped near AuditMaxLen.
	if n := raw.XLen(ctx, "stb:{stb}:audit").Val(); n < 50 || n >= 121 {
		t.Fatalf("global stream holds %d entries, want about 50 (cap) of 121", n)
	}
	if trail, err := a.AuditTrail(ctx, "run-none"); err != nil || len(trail) != 0 {
		t.Fatalf("trail of a run without entries = %v, %v; want empty", trail, err)
	}
}

func TestConcurrentAuditKeepsEachWritersOrder(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.New(t)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		s := newStore(t, srv.Client(), state.Options{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := flows.AuditEntry{RunID: "run-1", At: t0, Actor: fmt.Sprint(w), Action: "step", Detail: fmt.Sprint(i)}
				if err := s.Audit(ctx, e); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	trail, err := newStore(t, srv.Client(), state.Options{}).AuditTrail(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != writers*each {
		t.Fatalf("trail has %d entries, want %d", len(trail), writers*each)
	}
	next := map[string]int{}
	for _, e := range trail {
		if e.Detail != fmt.Sprint(next[e.Actor]) {
			t.Fatalf("writer %s: entry %s came when %d was due", e.Actor, e.Detail, next[e.Actor])
		}
		next[e.Actor]++
	}
}

// streamIDLess compares stream ids ("ms-seq") numerically.
func streamIDLess(a, b string) bool {
	var ams, aseq, bms, bseq uint64
	fmt.Sscanf(a, "%d-%d", &ams, &aseq)
	fmt.Sscanf(b, "%d-%d", &bms, &bseq)
	return ams < bms || ams == bms && aseq < bseq
}
