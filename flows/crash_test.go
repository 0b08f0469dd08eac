package flows_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// crasher kills an engine right after its n-th call that changes
// something (in Redis, Signon or the cluster): the change has happened,
// the engine never learns its outcome, and every later call fails, as if
// the process had died. n = 0 never kills; the count tells a test how
// many kill points a run has.
type crasher struct {
	n     int64
	count atomic.Int64
	dead  atomic.Bool
	kill  func()
}

var errDead = errors.New("crashed")

func (c *crasher) alive() error {
	if c.dead.Load() {
		return errDead
	}
	return nil
}

// changed counts a change; it reports whether the engine just died.
func (c *crasher) changed() bool {
	if c.count.Add(1) == c.n {
		c.dead.Store(true)
		c.kill()
		return true
	}
	return false
}

func (c *crasher) wrap(p ports, kill func()) ports {
	c.kill = kill
	return ports{
		store:   &crashStore{Store: p.store, c: c},
		signon:  &crashSignon{Signon: p.signon, c: c},
		cluster: &crashCluster{Cluster: p.cluster, c: c},
	}
}

// do runs a changing call; if the engine dies with it, the outcome is
// lost.
func do[T any](c *crasher, f func() (T, error)) (T, error) {
	var zero T
	if err := c.alive(); err != nil {
		return zero, err
	}
	v, err := f()
	if c.changed() {
		return zero, errDead
	}
	return v, err
}

func read[T any](c *crasher, f func() (T, error)) (T, error) {
	var zero T
	if err := c.alive(); err != nil {
		return zero, err
	}
	return f()
}

type crashStore struct {
	flows.Store
	c *crasher
}

// The owner name's hold passes through, as the real store's does, so that
// the engine before the crash and the one after it are two incarnations of
// one replica, as a restarted container is; it is no kill point, and a
// dead engine's hold is left to lapse.

func (s *crashStore) TakeName(ctx context.Context, name, incarnation string, ttl time.Duration) (string, error) {
	if err := s.c.alive(); err != nil {
		return "", err
	}
	return s.Store.(flows.NameStore).TakeName(ctx, name, incarnation, ttl)
}

func (s *crashStore) RenewName(ctx context.Context, name, incarnation string, ttl time.Duration) (bool, error) {
	if err := s.c.alive(); err != nil {
		return false, err
	}
	return s.Store.(flows.NameStore).RenewName(ctx, name, incarnation, ttl)
}

func (s *crashStore) ReleaseName(ctx context.Context, name, incarnation string) error {
	if err := s.c.alive(); err != nil {
		return err
	}
	return s.Store.(flows.NameStore).ReleaseName(ctx, name, incarnation)
}

func (s *crashStore) CreateRun(ctx context.Context, r *flows.Run) error {
	_, err := do(s.c, func() (any, error) { return nil, s.Store.CreateRun(ctx, r) })
	return err
}
func (s *crashStore) UpdateRun(ctx context.Context, r *flows.Run) error {
	_, err := do(s.c, func() (any, error) { return nil, s.Store.UpdateRun(ctx, r) })
	return err
}
func (s *crashStore) Audit(ctx context.Context, a flows.AuditEntry) error {
	_, err := do(s.c, func() (any, error) { return nil, s.Store.Audit(ctx, a) })
	return err
}
func (s *crashStore) Claim(ctx context.Context, id, owner string, ttl time.Duration) (bool, error) {
	return read(s.c, func() (bool, error) { return s.Store.Claim(ctx, id, owner, ttl) })
}
func (s *crashStore) Release(ctx context.Context, id, owner string) error {
	_, err := read(s.c, func() (any, error) { return nil, s.Store.Release(ctx, id, owner) })
	return err
}
func (s *crashStore) Run(ctx context.Context, id string) (*flows.Run, error) {
	return read(s.c, func() (*flows.Run, error) { return s.Store.Run(ctx, id) })
}
func (s *crashStore) ActiveRun(ctx context.Context, k flows.Key) (*flows.Run, error) {
	return read(s.c, func() (*flows.Run, error) { return s.Store.ActiveRun(ctx, k) })
}
func (s *crashStore) ActiveRuns(ctx context.Context) ([]*flows.Run, error) {
	return read(s.c, func() ([]*flows.Run, error) { return s.Store.ActiveRuns(ctx) })
}

type crashSignon struct {
	flows.Signon
	c *crasher
}

func (s *crashSignon) Tokens(ctx context.Context, email, app string) (flows.TokenSet, error) {
	return read(s.c, func() (flows.TokenSet, error) { return s.Signon.Tokens(ctx, email, app) })
}
func (s *crashSignon) Issue(ctx context.Context, r flows.IssueRequest) (flows.Issued, error) {
	return do(s.c, func() (flows.Issued, error) { return s.Signon.Issue(ctx, r) })
}
func (s *crashSignon) Revoke(ctx context.Context, r flows.RevokeRequest) (flows.Revoked, error) {
	return do(s.c, func() (flows.Revoked, error) { return s.Signon.Revoke(ctx, r) })
}

type crashCluster struct {
	flows.Cluster
	c *crasher
}

func (k *crashCluster) Consumers(ctx context.Context, s string) ([]flows.Consumer, error) {
	return read(k.c, func() ([]flows.Consumer, error) { return k.Cluster.Consumers(ctx, s) })
}
func (k *crashCluster) Secret(ctx context.Context, s string) (flows.SecretState, error) {
	return read(k.c, func() (flows.SecretState, error) { return k.Cluster.Secret(ctx, s) })
}
func (k *crashCluster) StartSync(ctx context.Context, id string, at time.Time) (flows.SyncJob, error) {
	return do(k.c, func() (flows.SyncJob, error) { return k.Cluster.StartSync(ctx, id, at) })
}
func (k *crashCluster) WaitSync(ctx context.Context, job, s string, p func(flows.SyncProgress)) (flows.SyncResult, error) {
	return do(k.c, func() (flows.SyncResult, error) { return k.Cluster.WaitSync(ctx, job, s, p) })
}
func (k *crashCluster) WaitRollout(ctx context.Context, d string, since time.Time, st time.Duration) (flows.Rollout, error) {
	return read(k.c, func() (flows.Rollout, error) { return k.Cluster.WaitRollout(ctx, d, since, st) })
}
func (k *crashCluster) CheckPods(ctx context.Context, c flows.Consumer, want token.Fingerprint) ([]flows.PodCheck, error) {
	return read(k.c, func() ([]flows.PodCheck, error) { return k.Cluster.CheckPods(ctx, c, want) })
}
func (k *crashCluster) LiveCheck(ctx context.Context, c flows.Consumer, app string) (flows.LiveCheck, error) {
	return read(k.c, func() (flows.LiveCheck, error) { return k.Cluster.LiveCheck(ctx, c, app) })
}

// guard fails the test if an old token is revoked while any consumer pod
// holds something other than the newest token: invariant 1.
type guard struct {
	flows.Signon
	t     *testing.T
	w     *world
	early atomic.Int64
}

func (g *guard) Revoke(ctx context.Context, r flows.RevokeRequest) (flows.Revoked, error) {
	newest, ok := g.w.signon.NewestUnrevoked(userName, appName)
	if ok && r.TokenID == g.w.old.ID {
		for _, dep := range []string{"content-tagger", "draft-content-tagger"} {
			if got := g.w.cluster.PodFingerprint(dep, variable); got != newest.Fingerprint() {
				g.early.Add(1)
				g.t.Errorf("old token revoked while %s holds %s, not the new token %s", dep, got, newest.Fingerprint())
			}
		}
	}
	return g.Signon.Revoke(ctx, r)
}

// clickThrough answers the run's gates as operators would (Alice the sync,
// Bob the revoke) until it ends, using whichever engine is current.
func clickThrough(t *testing.T, current func() *flows.Engine, id string) *flows.Run {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		eng := current()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		run, err := eng.WaitFor(ctx, id, func(r *flows.Run) bool { return r.Phase != flows.PhaseRunning })
		cancel()
		if err != nil {
			continue
		}
		if ended(run) {
			return run
		}
		if run.Ended() || run.Gate == nil {
			continue
		}
		actor := alice
		if run.Gate.Kind == flows.GateRevoke {
			actor = bob
		}
		_, _ = eng.Act(context.Background(), flows.ActRequest{RunID: id, GateID: run.Gate.ID, Action: flows.ActionApprove, Actor: actor})
	}
	t.Fatalf("run %s did not end", id)
	return nil
}

// crashRun plays one rotation, killing the first engine after its n-th
// change and finishing with a restarted one. It returns the number of
// changes the first engine made.
func crashRun(t *testing.T, n int64) int64 {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	g := &guard{Signon: w.signon, t: t, w: w}
	c := &crasher{n: n}
	final := crashPlay(t, e, g, c, flows.StartRequest{Key: key(flows.Production), Actor: alice, Thread: flows.Thread{Channel: channel}})
	if final == nil {
		return c.count.Load() // died before the run existed: nothing to check
	}
	if final.Phase != flows.PhaseDone {
		t.Fatalf("kill after change %d: run ended %s (%s)", n, final.Phase, final.Reason)
	}
	if got := w.signon.TokenCount(userEmail, appName); got != 2 {
		t.Errorf("kill after change %d: %d tokens, want exactly one new one", n, got)
	}
	if !w.token(t, w.old.ID).Revoked() || w.token(t, final.NewToken.ID).Revoked() {
		t.Errorf("kill after change %d: want old revoked, new live", n)
	}
	if jobs := w.cluster.JobsCreated(); jobs != 1 {
		t.Errorf("kill after change %d: %d sync Jobs, want 1", n, jobs)
	}
	if g.early.Load() != 0 {
		t.Errorf("kill after change %d: %d early revokes", n, g.early.Load())
	}
	return c.count.Load()
}

// crashPlay starts a run on an engine that c kills, restarts the engine
// once it is dead, and clicks the run through to its end; sn is the
// Signon both engines talk to. It returns the ended run, or nil if the
// engine died before the run existed.
func crashPlay(t *testing.T, e *env, sn flows.Signon, c *crasher, req flows.StartRequest) *flows.Run {
	t.Helper()
	first, stopFirst := e.engine("replica-1", func(p ports, kill func()) ports {
		p.signon = sn
		return c.wrap(p, kill)
	})
	var mu sync.Mutex
	cur := first
	restarted := false
	current := func() *flows.Engine {
		mu.Lock()
		defer mu.Unlock()
		if c.dead.Load() && !restarted {
			restarted = true
			stopFirst()
			cur, _ = e.engine("replica-1", func(p ports, _ func()) ports { p.signon = sn; return p })
		}
		return cur
	}
	run, err := first.Start(context.Background(), req)
	if run == nil {
		// The engine died inside Start: the run exists only if CreateRun
		// happened.
		if !c.dead.Load() {
			t.Fatalf("start: %v", err)
		}
		run, err = e.store.ActiveRun(context.Background(), req.Key)
		if errors.Is(err, flows.ErrRunNotFound) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		current() // restart now: nobody else will resume it
	}
	return clickThrough(t, current, run.ID)
}

// everyChange plays a run once to count its changes, then once per kill
// point, killing the engine after that change; a run of fewer than least
// changes means the crasher is not wired.
func everyChange(t *testing.T, least int64, play func(t *testing.T, n int64) int64) {
	total := play(t, 0)
	if total < least {
		t.Fatalf("a run made only %d changes: the crasher is not wired", total)
	}
	for n := int64(1); n <= total; n++ {
		t.Run(fmt.Sprintf("after change %d of %d", n, total), func(t *testing.T) { play(t, n) })
	}
	t.Logf("kill points: %d", total)
}

// TestCrashAtEveryChange kills the engine after each change a rotation
// makes (every step boundary, and between every side effect and its
// recording) and resumes it: the run completes with one new token, one
// sync Job, and no old token revoked before verification.
func TestCrashAtEveryChange(t *testing.T) { everyChange(t, 10, crashRun) }

// TestTwoEnginesSameClicks gives two replicas on one Redis the same start
// and the same clicks at the same time: one run, each effect once.
func TestTwoEnginesSameClicks(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	a, _ := e.engine("replica-a", nil)
	b, _ := e.engine("replica-b", nil)
	engines := []*flows.Engine{a, b}

	runs := make([]*flows.Run, 2)
	errs := make([]error, 2)
	race(engines, func(i int, eng *flows.Engine) {
		runs[i], errs[i] = eng.Start(context.Background(), flows.StartRequest{Key: key(flows.Production), Actor: alice, Thread: flows.Thread{Channel: channel}})
	})
	if runs[0] == nil || runs[1] == nil || runs[0].ID != runs[1].ID {
		t.Fatalf("two starts made two runs: %v %v (%v, %v)", runs[0], runs[1], errs[0], errs[1])
	}
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("want exactly one start to create the run: %v, %v", errs[0], errs[1])
	}
	id := runs[0].ID
	for _, gate := range []struct {
		kind  flows.GateKind
		actor string
	}{{flows.GateSync, alice}, {flows.GateRevoke, bob}} {
		run := waitFor(t, a, id, string(gate.kind), atGate(gate.kind))
		race(engines, func(i int, eng *flows.Engine) {
			_, errs[i] = eng.Act(context.Background(), flows.ActRequest{RunID: id, GateID: run.Gate.ID, Action: flows.ActionApprove, Actor: gate.actor})
		})
		if (errs[0] == nil) == (errs[1] == nil) || !(isA[*flows.StaleError](errs[0]) || isA[*flows.StaleError](errs[1])) {
			t.Fatalf("%s: want one click to win and the other to be stale: %v, %v", gate.kind, errs[0], errs[1])
		}
	}
	run := waitFor(t, b, id, "the end", ended)
	if run.Phase != flows.PhaseDone {
		t.Fatalf("phase %s", run.Phase)
	}
	if w.signon.Calls("issue") != 1 || w.signon.Calls("revoke") != 1 || w.cluster.JobsCreated() != 1 {
		t.Errorf("issue %d, revoke %d, jobs %d: want each once", w.signon.Calls("issue"), w.signon.Calls("revoke"), w.cluster.JobsCreated())
	}
}

// race runs f for each engine at the same moment.
func race(engines []*flows.Engine, f func(int, *flows.Engine)) {
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	for i, eng := range engines {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			f(i, eng)
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()
}

var _ flows.NameStore = (*crashStore)(nil)
