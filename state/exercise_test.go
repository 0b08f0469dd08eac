package state_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// exercise calls every method of the Store on the way through two runs
// and an offer, failing on any unexpected answer. raw is a client of the
// same Redis for what only an operator would do.
func exercise(t *testing.T, s *state.Store, raw redis.UniversalClient) {
	t.Helper()
	ctx := ctxT(t)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	a, b := newRun("run-a", testKey(1)), newRun("run-b", testKey(2))
	must("CreateRun a", s.CreateRun(ctx, a))
	must("CreateRun b", s.CreateRun(ctx, b))
	var are *flows.ActiveRunError
	if err := s.CreateRun(ctx, newRun("run-c", testKey(1))); !errors.As(err, &are) {
		t.Fatalf("CreateRun on a locked key: %v", err)
	}
	_, err := s.ActiveRun(ctx, testKey(1))
	must("ActiveRun", err)
	ok, err := s.Claim(ctx, "run-a", "me", time.Minute)
	must("Claim", err)
	if !ok {
		t.Fatal("Claim of a free lease failed")
	}
	must("Audit", s.Audit(ctx, flows.AuditEntry{RunID: "run-a", At: t0, Actor: "U1", Action: "approve"}))
	a.Step = flows.StepSync
	must("UpdateRun", s.UpdateRun(ctx, a))
	a.Phase = flows.PhaseDone
	must("UpdateRun to done", s.UpdateRun(ctx, a))
	must("Release", s.Release(ctx, "run-a", "me"))
	trail, err := s.AuditTrail(ctx, "run-a")
	must("AuditTrail", err)
	if len(trail) != 1 {
		t.Fatalf("trail has %d entries, want 1", len(trail))
	}
	ids, err := s.RunsInThread(ctx, a.Thread.Channel, a.Thread.TS)
	must("RunsInThread", err)
	if !reflect.DeepEqual(ids, []string{"run-a", "run-b"}) {
		t.Fatalf("RunsInThread = %q", ids)
	}
	active, err := s.ActiveRuns(ctx)
	must("ActiveRuns", err)
	if !reflect.DeepEqual(runIDs(active), []string{"run-b"}) {
		t.Fatalf("ActiveRuns = %q", runIDs(active))
	}
	heads, err := s.ActiveHeads(ctx)
	must("ActiveHeads", err)
	if !reflect.DeepEqual(headIDs(heads), []string{"run-b"}) {
		t.Fatalf("ActiveHeads = %q", headIDs(heads))
	}
	// The lock of a deleted run is taken over: the create script reads a
	// key it was not given, which Cluster allows only in the same slot.
	must("delete run-b", raw.Del(ctx, "stb:{stb}:run:run-b").Err())
	must("CreateRun over a stale lock", s.CreateRun(ctx, newRun("run-d", testKey(2))))

	o := newOffer("offer-1", "C0ALERTS", "1.1", testKey(1), testKey(2), testKey(3))
	must("CreateOffer", s.CreateOffer(ctx, o))
	o.Items[0].IgnoredBy = "U2"
	must("UpdateOffer", s.UpdateOffer(ctx, o))
	_, err = s.OfferForAlert(ctx, "C0ALERTS", "1.1")
	must("OfferForAlert", err)
	_, err = s.OfferForKey(ctx, testKey(3))
	must("OfferForKey", err)
	_, err = s.Once(ctx, "envelope-1", 0)
	must("Once", err)
}

// TestStoreOnMiniredis: other packages' fast unit tests may run the Store
// on miniredis, so everything it does must work there too.
func TestStoreOnMiniredis(t *testing.T) {
	m := redistest.NewMini(t)
	exercise(t, newStore(t, m.Client(), state.Options{}), m.Client())
}
