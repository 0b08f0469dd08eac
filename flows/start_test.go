package flows_test

import (
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// With Slack answering at once, Start returns the run with its status
// message posted, so that the answer to whoever started it links the
// thread.
func TestStartReturnsThePostedRun(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	rc, ok := run.Receipts[flows.StatusPostID]
	if !ok || run.Thread.TS != rc.TS {
		t.Fatalf("Start returned receipts %v and thread %+v, want the status message posted and the thread its", run.Receipts, run.Thread)
	}
}

// A status message queued behind Slack's rate limits does not hold Start
// (nor the Slack handler that called it) for longer than StartWait; the
// driver posts it once Slack takes it, and only once.
func TestStartDoesNotWaitForASlowSlack(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	hold := make(chan struct{})
	e.notifier.Hold = hold
	e.startWait = 50 * time.Millisecond
	eng, _ := e.engine("replica-1", nil)
	started := make(chan *flows.Run, 1)
	go func() { started <- start(t, eng, flows.ModeRotate) }()
	var run *flows.Run
	select {
	case run = <-started:
	case <-time.After(10 * time.Second):
		close(hold)
		t.Fatal("Start still waits for Slack after 10 s")
	}
	if _, ok := run.Receipts[flows.StatusPostID]; ok {
		t.Fatal("Start returned a receipt for a status message Slack has not taken")
	}
	close(hold)
	run = waitFor(t, eng, run.ID, "the sync gate, in Slack", func(r *flows.Run) bool {
		_, ok := r.Receipts[flows.StatusPostID]
		return ok && atGate(flows.GateSync)(r) && len(r.Receipts) == len(r.Posts)+1
	})
	n := 0
	for _, m := range e.notifier.Thread(run.ID) {
		if m.ID == flows.StatusPostID {
			n++
		}
	}
	if n != 1 || run.Thread.TS != run.Receipts[flows.StatusPostID].TS {
		t.Errorf("%d status messages, thread %+v; want one, and the thread its", n, run.Thread)
	}
}
