package flows_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

// TestRedisLosesEverything: Redis restarts empty while a run waits at its
// sync gate with a new token issued. The next sweep reports, in the run's
// thread, what Signon and the cluster show; a new run then finds the
// token the lost run made instead of issuing another.
func TestRedisLosesEverything(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	a, _ := e.engine("replica-a", nil)
	b, _ := e.engine("replica-b", nil)
	run := start(t, a, flows.ModeRotate)
	run = waitFor(t, a, run.ID, "the sync gate", atGate(flows.GateSync))
	if err := b.Sweep(context.Background()); err != nil { // b learns of the run too
		t.Fatal(err)
	}
	e.redis.Flush()

	for _, eng := range []*flows.Engine{a, b} {
		if err := eng.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	thread := e.notifier.Transcript(run.ID)
	if n := strings.Count(thread, "State lost"); n != 1 {
		t.Fatalf("the loss is reported %d times, want once by one of two replicas:\n%s", n, thread)
	}
	for _, want := range []string{"Made during the run: token #" + itoa(run.NewToken.ID), "Old: token #" + itoa(w.old.ID), "/rotate-token content-tagger@alphagov.co.uk publishing-api production"} {
		if !strings.Contains(thread, want) {
			t.Errorf("the report lacks %q:\n%s", want, thread)
		}
	}

	again := start(t, a, flows.ModeRotate)
	again = waitFor(t, a, again.ID, "the sync gate", atGate(flows.GateSync))
	if !again.NewTokenExisting || again.NewToken.ID != run.NewToken.ID {
		t.Fatalf("the new run did not pick up the lost run's token: %+v", again.NewToken)
	}
	if got := w.signon.TokenCount(userEmail, appName); got != 2 {
		t.Fatalf("tokens = %d, want 2: no second issue", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
