package flows_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// The people in the tests: Alice and Bob may start and approve; Mallory
// is a workspace member with no role.
const (
	alice   = "U0ALICE"
	bob     = "U0BOB"
	mallory = "U0MALLORY"
	channel = "C0ALERTS"

	userEmail = "content-tagger@alphagov.co.uk"
	userName  = "Content Tagger"
	appName   = "Publishing API"
	appSlug   = "publishing-api"
	variable  = "PUBLISHING_API_BEARER_TOKEN"
)

// world is one environment's Signon and cluster: an API user whose token
// expires in nine days, read by two Deployments unless setup says not.
type world struct {
	clock   *flowstest.Clock
	signon  *signontest.Signon
	cluster *clustertest.Cluster
	old     flows.Token
	secret  string
	renewed flows.Token
}

// setup varies the world.
type setup struct {
	// external: no workload in the cluster reads the token.
	external bool
	// renewed: Signon's auto-rotation made a newer token; synced: last
	// night's sync wrote it and the consumers rolled.
	renewed, synced bool
	// lastUsed is how long ago the application used the token (1h).
	lastUsed time.Duration
}

func newWorld(t *testing.T, s setup) *world {
	t.Helper()
	clock := &flowstest.Clock{}
	sn := signontest.New(clock)
	sn.AddHumanUser("Alice", "alice@digital.cabinet-office.gov.uk")
	sn.AddAPIUser(userName, userEmail)
	sn.AddApplication(appName)
	now := clock.Now()
	created := now.AddDate(-2, 0, 9)
	old, _ := sn.AddToken(userEmail, appName, created, now.AddDate(0, 0, 9).Sub(created))
	if s.lastUsed == 0 {
		s.lastUsed = time.Hour
	}
	sn.SetLastSynced(userEmail, appName, now.Add(-s.lastUsed))
	w := &world{clock: clock, signon: sn, old: old}
	w.cluster = &clustertest.Cluster{Tokens: sn, Clock: clock}
	addRenewed := func() {
		w.renewed, _ = sn.AddToken(userEmail, appName, now.Add(-8*time.Hour), 2*365*24*time.Hour)
	}
	if s.renewed && s.synced {
		addRenewed()
	}
	w.secret = w.cluster.AddSecret(userName, appName)
	if !s.external {
		w.cluster.AddDeployment("content-tagger", "app", variable, w.secret)
		w.cluster.AddDeployment("draft-content-tagger", "app", variable, w.secret)
	}
	if s.renewed && !s.synced {
		addRenewed()
	}
	return w
}

// env wires an engine to the world over a store; each call makes a new
// engine (a new replica, or the same one restarted).
type env struct {
	t        *testing.T
	w        *world
	redis    *redistest.Server
	store    *state.Store
	notifier *flowstest.Notifier
	dir      *flowstest.Directory
	revealer *flowstest.Revealer
	policy   flows.Policy
	// tune, if set, adjusts each engine's configuration (its timings).
	tune func(*flows.Config)
	// ended, if set, is told how each engine's Run ended instead of the
	// test failing on an error.
	ended func(owner string, err error)
}

func newEnv(t *testing.T, w *world) *env {
	t.Helper()
	srv := redistest.NewMini(t)
	st, err := state.New(srv.Client(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := flows.GOVUKPolicy()
	for _, name := range []string{flows.Integration, flows.Production} {
		e := p.Environments[name]
		e.Starters = flows.Principals{Users: []string{alice, bob}}
		p.Environments[name] = e
	}
	return &env{
		t: t, w: w, redis: srv, store: st, policy: p,
		notifier: &flowstest.Notifier{},
		dir: &flowstest.Directory{Emails: map[string]string{
			alice: "alice@digital.cabinet-office.gov.uk",
			bob:   "bob@digital.cabinet-office.gov.uk",
		}},
		revealer: &flowstest.Revealer{},
	}
}

// ports lets a test wrap what the engine talks to.
type ports struct {
	store   flows.Store
	signon  flows.Signon
	cluster flows.Cluster
}

// engine starts an engine replica named owner; it stops when the test
// ends or stop is called, and stop waits for it.
// wrap may cut the engine off with kill, as a crash would.
func (e *env) engine(owner string, wrap func(p ports, kill func()) ports) (eng *flows.Engine, stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := ports{store: e.store, signon: e.w.signon, cluster: e.w.cluster}
	if wrap != nil {
		p = wrap(p, cancel)
	}
	cfg := flows.Config{
		Policy: e.policy,
		Envs: map[string]flows.Env{
			flows.Production:  {Signon: p.signon, Cluster: p.cluster},
			flows.Integration: {Signon: p.signon, Cluster: p.cluster},
		},
		Store:      p.store,
		Notifier:   e.notifier,
		Directory:  e.dir,
		Revealer:   e.revealer,
		Clock:      e.w.clock,
		Owner:      owner,
		Logger:     slog.New(slog.NewTextHandler(e.t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		LeaseTTL:   time.Minute,
		SweepEvery: time.Hour,
	}
	if e.tune != nil {
		e.tune(&cfg)
	}
	eng, err := flows.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := eng.Run(ctx)
		switch {
		case e.ended != nil:
			e.ended(owner, err)
		case err != nil:
			e.t.Errorf("engine %s: %v", owner, err)
		}
	}()
	stop = func() { cancel(); <-done }
	e.t.Cleanup(stop)
	return eng, stop
}

// onRealRedis moves the env's store to a real redis-server: a lease lapses
// when Redis expires it, in real time, which miniredis does not do.
func (e *env) onRealRedis() {
	e.t.Helper()
	st, err := state.New(redistest.New(e.t).Client(), state.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = st
}

func key(env string) flows.Key {
	return flows.Key{Environment: env, APIUser: userEmail, Application: appSlug}
}

func start(t *testing.T, eng *flows.Engine, mode flows.Mode) *flows.Run {
	t.Helper()
	run, err := eng.Start(context.Background(), flows.StartRequest{
		Key: key(flows.Production), Mode: mode, Actor: alice,
		Thread: flows.Thread{Channel: channel}, Origin: flows.Origin{Kind: "command"},
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return run
}

// waitFor waits (up to 10 s) until the run satisfies cond.
func waitFor(t *testing.T, eng *flows.Engine, id string, what string, cond func(*flows.Run) bool) *flows.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	run, err := eng.WaitFor(ctx, id, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return run
}

func atGate(kind flows.GateKind) func(*flows.Run) bool {
	return func(r *flows.Run) bool { return r.Phase != flows.PhaseRunning && r.Gate != nil && r.Gate.Kind == kind }
}

// ended: the run is over and its thread says so.
func ended(r *flows.Run) bool {
	if !r.Ended() {
		return false
	}
	for _, p := range r.Posts {
		if _, ok := r.Receipts[p.ID]; !ok {
			return false
		}
	}
	return true
}

func act(t *testing.T, eng *flows.Engine, run *flows.Run, a flows.Action, actor string) (*flows.Run, error) {
	t.Helper()
	return eng.Act(context.Background(), flows.ActRequest{RunID: run.ID, GateID: run.Gate.ID, Action: a, Actor: actor, Handle: "modal-1"})
}

func mustAct(t *testing.T, eng *flows.Engine, run *flows.Run, a flows.Action, actor string) *flows.Run {
	t.Helper()
	r, err := act(t, eng, run, a, actor)
	if err != nil {
		t.Fatalf("%s by %s at gate %s: %v", a, actor, run.Gate.Kind, err)
	}
	return r
}

func isA[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}
