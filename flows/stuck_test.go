package flows_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// stuckCluster's first StartSync does not return until the test ends,
// whatever its context says: a call stuck past every timeout, as one
// through a library that ignores cancellation would be. Later calls, from
// any replica, pass.
type stuckCluster struct {
	flows.Cluster
	first   atomic.Bool
	stuck   chan struct{} // closed once the first call is stuck
	release chan struct{}
}

func (s *stuckCluster) StartSync(ctx context.Context, runID string, at time.Time) (flows.SyncJob, error) {
	if s.first.CompareAndSwap(false, true) {
		close(s.stuck)
		<-s.release
		return flows.SyncJob{}, errors.New("released at the end of the test")
	}
	return s.Cluster.StartSync(ctx, runID, at)
}

// TestAStepStuckPastItsDeadlineIsTakenOver: the replica whose sync step
// is stuck stops renewing the run's lease once the step has overrun its
// budget (the sync timeout plus the step timeout), and the other replica
// takes the run over and finishes the step, with one sync Job.
func TestAStepStuckPastItsDeadlineIsTakenOver(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	e.onRealRedis()
	prod := e.policy.Environments[flows.Production]
	prod.SyncTimeout = time.Second
	e.policy.Environments[flows.Production] = prod
	e.tune = func(c *flows.Config) {
		c.LeaseTTL, c.StepTimeout, c.SweepEvery = 600*time.Millisecond, time.Second, 200*time.Millisecond
	}
	sc := &stuckCluster{Cluster: w.cluster, stuck: make(chan struct{}), release: make(chan struct{})}
	wrap := func(p ports, _ func()) ports {
		p.cluster = sc
		return p
	}
	one, _ := e.engine("replica-1", wrap)
	two, _ := e.engine("replica-2", wrap)
	// Cleanups run last first: the stuck call returns before the engines
	// are stopped and waited for.
	t.Cleanup(func() { close(sc.release) })

	run := start(t, one, flows.ModeRotate)
	run = waitFor(t, one, run.ID, "the sync gate", atGate(flows.GateSync))
	run = mustAct(t, one, run, flows.ActionApprove, alice)
	select {
	case <-sc.stuck:
	case <-time.After(10 * time.Second):
		t.Fatal("no replica started the sync")
	}
	stuckAt := time.Now()
	run = waitFor(t, two, run.ID, "another replica to take the run over and finish the sync", atGate(flows.GateRevoke))
	if took := time.Since(stuckAt); took < 2*time.Second {
		t.Errorf("the run was taken over %v after its step got stuck, before the step's 2s budget ran out", took)
	}
	if n := w.cluster.JobsCreated(); n != 1 {
		t.Errorf("%d sync Jobs, want 1", n)
	}
	if got := w.cluster.PodFingerprint("content-tagger", variable); got != run.NewToken.Fingerprint {
		t.Errorf("content-tagger does not hold the new token")
	}
}
