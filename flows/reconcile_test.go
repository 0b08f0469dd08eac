package flows_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

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

// neverDrives is a store through which an engine starts runs but never
// wins the lease to drive one, so that another replica drives them.
type neverDrives struct{ flows.Store }

func (neverDrives) Claim(context.Context, string, string, time.Duration) (bool, error) {
	return false, nil
}

// TestLostRunReportedFromAStaleCopy: the replica that started a run, and
// so knows it only as it was at the start, is the one to report its loss.
// The report still names the old token and the Secret, read from Signon
// and the cluster rather than from the copy.
func TestLostRunReportedFromAStaleCopy(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	a, _ := e.engine("replica-a", func(p ports, _ func()) ports { p.store = neverDrives{p.store}; return p })
	run := start(t, a, flows.ModeRotate)
	b, _ := e.engine("replica-b", nil)
	run = waitFor(t, b, run.ID, "the sync gate", atGate(flows.GateSync))
	e.redis.Flush()

	if err := a.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	thread := e.notifier.Transcript(run.ID)
	if n := strings.Count(thread, "State lost"); n != 1 {
		t.Fatalf("the loss is reported %d times:\n%s", n, thread)
	}
	report := thread[strings.LastIndex(thread, "State lost"):]
	for _, want := range []string{
		"Made during the run: token #" + itoa(run.NewToken.ID),
		"Old: token #" + itoa(w.old.ID),
		"Secret `signon-token-content-tagger-publishing-api` holds fingerprint `" + w.old.Fingerprint.Short() + "`",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
}
