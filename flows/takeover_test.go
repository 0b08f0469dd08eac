package flows_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// takeoverLine is what the thread says when a replica takes a run over.
const takeoverLine = "stopped answering"

// dyingCluster kills its engine at the first StartSync, before the Job
// exists: a replica that dies in the middle of the sync step, holding the
// run's lease.
type dyingCluster struct {
	flows.Cluster
	kill func()
	dead chan struct{}
}

func (c *dyingCluster) StartSync(ctx context.Context, runID string, at time.Time) (flows.SyncJob, error) {
	c.kill()
	close(c.dead)
	return flows.SyncJob{}, errDead
}

// takeoverEnv is a world on a real redis-server (a lease lapses when Redis
// expires it, in real time) with short leases, and a run whose first
// replica, replica-1, died in its sync step.
func takeoverEnv(t *testing.T) (*world, *env, *flows.Run) {
	t.Helper()
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	e.onRealRedis()
	e.tune = func(c *flows.Config) {
		c.LeaseTTL, c.SweepEvery = 600*time.Millisecond, 100*time.Millisecond
	}
	dc := &dyingCluster{dead: make(chan struct{})}
	one, _ := e.engine("replica-1", func(p ports, kill func()) ports {
		dc.Cluster, dc.kill = p.cluster, kill
		p.cluster = dc
		return p
	})
	run := start(t, one, flows.ModeRotate)
	run = waitFor(t, one, run.ID, "the sync gate", atGate(flows.GateSync))
	run = mustAct(t, one, run, flows.ActionApprove, alice)
	select {
	case <-dc.dead:
	case <-time.After(10 * time.Second):
		t.Fatal("replica-1 never started the sync")
	}
	return w, e, run
}

// takeoverLines counts the thread's messages that announce a takeover,
// and checks that none names a replica.
func takeoverLines(t *testing.T, e *env, id string) int {
	t.Helper()
	n := 0
	for _, m := range e.notifier.Thread(id) {
		if strings.Contains(m.Text, "replica-") {
			t.Errorf("the thread names a replica: %q", m.Text)
		}
		n += strings.Count(m.Text, takeoverLine)
	}
	return n
}

// finish clicks the run through its revoke gate and checks it rotated.
func finish(t *testing.T, w *world, eng *flows.Engine, run *flows.Run) *flows.Run {
	t.Helper()
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
	run = mustAct(t, eng, run, flows.ActionApprove, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)
	if run.Phase != flows.PhaseDone {
		t.Fatalf("phase %s (%s), want done", run.Phase, run.Reason)
	}
	if n := w.cluster.JobsCreated(); n != 1 {
		t.Errorf("%d sync Jobs, want 1", n)
	}
	return run
}

// TestATakeoverIsPostedInTheThread: replica-1 dies in the sync step;
// once its lease lapses replica-2 takes the run over, and the thread says
// once, at which step, that the run was resumed, without naming either
// replica.
func TestATakeoverIsPostedInTheThread(t *testing.T) {
	w, e, run := takeoverEnv(t)
	two, _ := e.engine("replica-2", nil)
	run = waitFor(t, two, run.ID, "replica-2 to finish the sync", atGate(flows.GateRevoke))
	if n := takeoverLines(t, e, run.ID); n != 1 {
		t.Fatalf("the thread announces %d takeovers, want 1:\n%s", n, e.notifier.Transcript(run.ID))
	}
	var line string
	for _, p := range run.Posts {
		if strings.Contains(p.Title, takeoverLine) {
			line = p.Title
		}
	}
	if !strings.Contains(line, string(flows.StepSync)) {
		t.Errorf("the takeover line %q does not say at which step", line)
	}
	run = finish(t, w, two, run)
	if n := takeoverLines(t, e, run.ID); n != 1 {
		t.Errorf("after the end the thread announces %d takeovers, want 1", n)
	}
	if run.Driver != "" {
		t.Errorf("an ended run still names its driver %q", run.Driver)
	}
}

// TestAReplicaResumingItsOwnRunIsNoTakeover: replica-1 restarts under the
// same name (a restarted pod keeps its owner name), takes its own lease
// back and finishes the run; the thread announces nothing.
func TestAReplicaResumingItsOwnRunIsNoTakeover(t *testing.T) {
	w, e, run := takeoverEnv(t)
	again, _ := e.engine("replica-1", nil)
	run = finish(t, w, again, run)
	if n := takeoverLines(t, e, run.ID); n != 0 {
		t.Errorf("the thread announces %d takeovers after a restart of the same replica, want 0:\n%s", n, e.notifier.Transcript(run.ID))
	}
}

// takeoverKiller kills its engine right after the save that records a
// takeover: the line is in the run but not yet in the thread.
type takeoverKiller struct {
	flows.Store
	kill func()
	done atomic.Bool
	dead chan struct{}
}

func (s *takeoverKiller) UpdateRun(ctx context.Context, r *flows.Run) error {
	if s.done.Load() {
		return errDead
	}
	err := s.Store.UpdateRun(ctx, r)
	if err == nil && len(r.Posts) > 0 && strings.Contains(r.Posts[len(r.Posts)-1].Title, takeoverLine) {
		s.done.Store(true)
		s.kill()
		close(s.dead)
		return errDead
	}
	return err
}

// TestATakeoverSurvivesACrashBeforeItsPost: replica-2 dies between
// recording the takeover and posting it; restarted under its name, it
// posts the line once, and does not announce a second takeover.
func TestATakeoverSurvivesACrashBeforeItsPost(t *testing.T) {
	w, e, run := takeoverEnv(t)
	tk := &takeoverKiller{dead: make(chan struct{})}
	_, stopTwo := e.engine("replica-2", func(p ports, kill func()) ports {
		tk.Store, tk.kill = p.store, kill
		p.store = tk
		return p
	})
	select {
	case <-tk.dead:
	case <-time.After(10 * time.Second):
		t.Fatal("replica-2 never recorded a takeover")
	}
	stopTwo()
	if n := takeoverLines(t, e, run.ID); n != 0 {
		t.Fatalf("the line reached the thread before the crash (%d): the crash is not where the test means it", n)
	}
	again, _ := e.engine("replica-2", nil)
	run = finish(t, w, again, run)
	if n := takeoverLines(t, e, run.ID); n != 1 {
		t.Errorf("the thread announces %d takeovers, want 1:\n%s", n, e.notifier.Transcript(run.ID))
	}
	recorded := 0
	for _, p := range run.Posts {
		recorded += strings.Count(p.Title, takeoverLine)
	}
	if recorded != 1 {
		t.Errorf("the run records %d takeover posts, want 1", recorded)
	}
}
