package flows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
)

// stuckIssue blocks Signon's Issue until the engine's context ends, so a
// run stays mid-step, its lease held, for as long as its engine lives.
type stuckIssue struct {
	flows.Signon
	entered chan struct{}
	once    sync.Once
	left    func()
}

func (s *stuckIssue) Issue(ctx context.Context, r flows.IssueRequest) (flows.Issued, error) {
	s.once.Do(func() { close(s.entered) })
	<-ctx.Done()
	s.left()
	return flows.Issued{}, ctx.Err()
}

// timeline records, in order, what the two processes did.
type timeline struct {
	mu     sync.Mutex
	events []string
}

func (tl *timeline) add(e string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.events = append(tl.events, e)
}

func (tl *timeline) index(e string) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for i, x := range tl.events {
		if x == e {
			return i
		}
	}
	return -1
}

// claimsLogged is the real store, telling the timeline when a claim
// succeeds; it is still a NameStore.
type claimsLogged struct {
	*state.Store
	tl   *timeline
	what string
}

func (c *claimsLogged) Claim(ctx context.Context, id, owner string, ttl time.Duration) (bool, error) {
	ok, err := c.Store.Claim(ctx, id, owner, ttl)
	if ok {
		c.tl.add(c.what)
	}
	return ok, err
}

// stuckRun starts an engine named owner whose run hangs in Issue, and
// returns once the run is there, holding its lease.
func stuckRun(t *testing.T, e *env, owner string, left func()) (*flows.Engine, *flows.Run, func()) {
	t.Helper()
	stuck := &stuckIssue{entered: make(chan struct{}), left: left}
	eng, stop := e.engine(owner, func(p ports, _ func()) ports {
		stuck.Signon = p.signon
		p.signon = stuck
		return p
	})
	run := start(t, eng, flows.ModeRotate)
	select {
	case <-stuck.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the run never reached Issue")
	}
	return eng, run, stop
}

// TestARestartedProcessTakesItsRunsBackAtOnce: a process killed mid-step
// leaves its run's lease held for a minute; restarted under the same
// owner name, it drives the run on at once. (Under miniredis the lease
// never lapses by itself, so waiting for it would fail the test.)
func TestARestartedProcessTakesItsRunsBackAtOnce(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	_, run, kill := stuckRun(t, e, "bot-7d9f-abcde", func() {})
	kill()

	again, _ := e.engine("bot-7d9f-abcde", nil)
	waitFor(t, again, run.ID, "the restarted process to drive the run to its sync gate", atGate(flows.GateSync))
}

// TestAnotherReplicaWaitsForTheLease: a replica with another name does
// not take a live lease.
func TestAnotherReplicaWaitsForTheLease(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	_, run, _ := stuckRun(t, e, "bot-7d9f-abcde", func() {})
	other, _ := e.engine("bot-7d9f-fghij", nil)
	if err := other.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.store.Claim(context.Background(), run.ID, "bot-7d9f-fghij#probe", time.Minute); err != nil || ok {
		t.Fatalf("another replica's claim on a live lease: %v, %v; want refused", ok, err)
	}
	if got, err := other.Get(context.Background(), run.ID); err != nil || got.Step != run.Step && got.Phase != flows.PhaseRunning {
		t.Fatalf("the run moved under another replica: %+v, %v", got, err)
	}
}

// TestTwoProcessesWithOneNameNeverDriveARunTogether: a second process
// under the same name while the first is alive (a misconfiguration, or an
// old container not quite dead) takes the name; the first sees it lost
// the name, cancels its step and ends its Run with ErrSuperseded, all
// before the second claims the run.
func TestTwoProcessesWithOneNameNeverDriveARunTogether(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	// Long enough for the first to notice on a loaded machine.
	e.tune = func(c *flows.Config) { c.Handover = 2 * time.Second }
	tl := &timeline{}
	ended := make(chan error, 2)
	e.ended = func(owner string, err error) {
		if err != nil {
			tl.add("first ended")
			ended <- err
		}
	}
	_, run, _ := stuckRun(t, e, "bot-7d9f-abcde", func() { tl.add("first left its step") })

	second, _ := e.engine("bot-7d9f-abcde", func(p ports, _ func()) ports {
		p.store = &claimsLogged{Store: e.store, tl: tl, what: "second claimed"}
		return p
	})
	select {
	case err := <-ended:
		if !errors.Is(err, flows.ErrSuperseded) {
			t.Fatalf("the first process ended with %v, want ErrSuperseded", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the first process kept its name")
	}
	waitFor(t, second, run.ID, "the second process to drive the run", atGate(flows.GateSync))
	left, claimed := tl.index("first left its step"), tl.index("second claimed")
	if left < 0 || claimed < 0 || left > claimed {
		t.Fatalf("the second process claimed the run before the first left its step: %v", tl.events)
	}
}
