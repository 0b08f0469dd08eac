package flows

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// Env is one environment's backends.
type Env struct {
	Signon  Signon
	Cluster Cluster
}

// Config wires an Engine.
type Config struct {
	Policy    Policy
	Envs      map[string]Env
	Store     Store
	Notifier  Notifier
	Directory Directory
	// Revealer shows an external consumer's token to its requester. Runs
	// that need a hand-off fail to reveal without it.
	Revealer Revealer
	Clock    Clock
	Logger   *slog.Logger
	Observer Observer
	// Owner names this replica in leases. Default: host name and a random
	// suffix, a new owner for every process. Set it to something stable
	// per replica (the pod name) with a Store that is a NameStore, and a
	// restarted process takes its own runs back at once instead of
	// waiting for their leases to lapse (see incarnation).
	Owner string
	// Handover is how long a process that took its owner name from another
	// process still holding it waits before it drives runs, so that a live
	// holder sees it lost the name and stops first. Default 1s.
	Handover time.Duration
	// LeaseTTL is how long a replica's claim on a run lasts unless renewed;
	// a crashed replica's runs are picked up after it. Default 30s.
	LeaseTTL time.Duration
	// StepTimeout is how long a step may go without recording progress,
	// beyond the waits it knows the length of (the sync Job's and the
	// verification's timeouts). A replica stops renewing the lease of a
	// run whose step overruns it, so that another can take the run over.
	// Default 5m: a few Signon calls of 90s and Kubernetes calls of 30s.
	StepTimeout time.Duration
	// SweepEvery is how often Run looks for runs nobody drives and gates
	// that expired. Default 10s.
	SweepEvery time.Duration
	// SignonConcurrency bounds the calls to each environment's Signon
	// running at once; the rest queue in turn. Default
	// DefaultSignonConcurrency.
	SignonConcurrency int
}

// Engine drives runs. Every replica has one; they share the Store.
type Engine struct {
	policy   Policy
	envs     map[string]Env
	store    Store
	notifier Notifier
	revealer Revealer
	clock    Clock
	log      *slog.Logger
	obs      Observer
	auth     authoriser
	dir      Directory
	batches  BatchStore
	bnotify  BatchNotifier
	owner    string
	inc      *incarnation
	leaseTTL time.Duration
	stepDur  time.Duration
	sweepDur time.Duration

	kicks chan string
	// slots bounds the runs driven at once, so a resume of thousands of
	// runs does not open thousands of Redis and Slack calls together.
	slots chan struct{}

	mu sync.Mutex
	// driving holds the runs this replica drives; true means "look
	// again when done": a kick that came while the drive was finishing.
	driving map[string]bool
	changed chan struct{} // closed and replaced on every save
	// known is what this replica keeps of each active run (knownRun), so
	// that a run the store loses (Redis restarted empty) can still be
	// reported.
	known  map[string]*knownRun
	drives sync.WaitGroup
	// syncLocks queue this replica's runs for an environment's sync lock
	// (environment: chan struct{}), so that they do not poll Redis for it.
	syncLocks sync.Map
	// sweeps counts the sweeps, for the ones that read runs whole
	// (head.go).
	sweeps atomic.Int64
}

// New checks the configuration and builds an Engine. Call Run to start it.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	for name := range cfg.Policy.Environments {
		if !cfg.Policy.Environments[name].Rotate {
			continue
		}
		env, ok := cfg.Envs[name]
		if !ok || env.Signon == nil || env.Cluster == nil {
			return nil, fmt.Errorf("environment %s rotates but has no Signon or Cluster backend", name)
		}
	}
	if cfg.Store == nil || cfg.Notifier == nil || cfg.Directory == nil {
		return nil, errors.New("flows: Store, Notifier and Directory are required")
	}
	e := &Engine{
		policy:   cfg.Policy,
		envs:     map[string]Env{},
		store:    cfg.Store,
		notifier: cfg.Notifier,
		revealer: cfg.Revealer,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		obs:      cfg.Observer,
		dir:      cfg.Directory,
		owner:    cfg.Owner,
		leaseTTL: cfg.LeaseTTL,
		stepDur:  cfg.StepTimeout,
		sweepDur: cfg.SweepEvery,
		kicks:    make(chan string, 1024),
		slots:    make(chan struct{}, 64),
		driving:  map[string]bool{},
		changed:  make(chan struct{}),
		known:    map[string]*knownRun{},
	}
	e.auth = authoriser{policy: cfg.Policy, dir: cfg.Directory}
	e.batches, _ = cfg.Store.(BatchStore)
	e.bnotify, _ = cfg.Notifier.(BatchNotifier)
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.obs == nil {
		e.obs = nopObserver{}
	}
	for name, env := range cfg.Envs {
		if env.Signon != nil {
			env.Signon = newQueuedSignon(env.Signon, name, cfg.SignonConcurrency, e.obs)
		}
		e.envs[name] = env
	}
	if e.leaseTTL <= 0 {
		e.leaseTTL = 30 * time.Second
	}
	names, stable := cfg.Store.(NameStore)
	switch {
	case e.owner == "":
		host, _ := os.Hostname()
		e.owner = host + "-" + randomID(4)
	case stable:
		e.inc = &incarnation{names: names, name: e.owner, id: randomID(4), ttl: e.leaseTTL, handover: cfg.Handover}
		if e.inc.handover <= 0 {
			e.inc.handover = time.Second
		}
		e.owner += "#" + e.inc.id
	}
	if e.stepDur <= 0 {
		e.stepDur = 5 * time.Minute
	}
	if e.sweepDur <= 0 {
		e.sweepDur = 10 * time.Second
	}
	return e, nil
}

// Policy returns the engine's policy.
func (e *Engine) Policy() Policy { return e.policy }

// Run resumes the runs in the store, then drives runs as they are started
// or clicked on, and sweeps for orphaned runs and expired gates, until ctx
// ends. It waits for the steps in flight to stop before it returns.
func (e *Engine) Run(ctx context.Context) (err error) {
	if e.inc != nil {
		held, release, herr := e.inc.hold(ctx, e.log)
		if herr != nil {
			return nil // ended before it could take its name
		}
		ctx = held
		defer func() { err = errors.Join(err, release()) }()
	}
	defer e.drives.Wait()
	if err := e.Sweep(ctx); err != nil {
		e.log.Warn("resume at start-up", "err", err)
	}
	t := time.NewTicker(e.sweepDur)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-e.kicks:
			e.startDrive(ctx, id)
		case <-t.C:
			if err := e.Sweep(ctx); err != nil {
				// The bot logs an outage of Redis once, where it is seen.
				level := slog.LevelWarn
				if errors.Is(err, ErrUnavailable) {
					level = slog.LevelDebug
				}
				e.log.Log(ctx, level, "sweep", "err", err)
			}
		}
	}
}

// kick asks Run to drive a run. It never blocks a Slack handler: if the
// queue is full the next sweep picks the run up.
func (e *Engine) kick(id string) {
	select {
	case e.kicks <- id:
	default:
	}
}

// Sweep drives every active run that nobody drives (a resumed or orphaned
// run), expires gates whose time is up, and brings threads in line with
// their runs. Run calls it at start-up and then periodically. It reads
// each run's head (every wholeEvery sweeps, the whole runs); what it acts
// on, it loads whole.
func (e *Engine) Sweep(ctx context.Context) error {
	heads, err := e.activeHeads(ctx)
	runs := make([]*Run, len(heads))
	for i, h := range heads {
		runs[i] = &h.Run
	}
	if err == nil {
		e.reconcileLost(ctx, runs)
		e.countActive(runs)
	}
	for _, h := range heads {
		r := &h.Run
		if r.Phase == PhaseWaiting && r.Gate != nil && r.Gate.Batch == "" && !r.Gate.Expired && !r.Gate.ExpiresAt.IsZero() && !e.clock.Now().Before(r.Gate.ExpiresAt) {
			e.expireGate(ctx, r.ID)
			continue
		}
		if e.remindDue(r, e.clock.Now()) {
			e.remind(ctx, r.ID)
		}
		// A step to execute, or a thread behind its run.
		if r.Phase == PhaseRunning || h.Unpublished {
			e.startDrive(ctx, r.ID)
		}
	}
	// After the drives have started: a resume's last run waits for none
	// of the copies, and a run saved meanwhile is not copied twice.
	// remember skips a version it knows already (saved here, or listed by
	// an earlier sweep), so a head never replaces what a save kept; of a
	// run known only from heads the engine keeps no checklist or
	// consumers, which a head lacks, and a lost run's report shows it
	// failed without them.
	for _, h := range heads {
		e.remember(&h.Run)
	}
	if err == nil {
		err = e.sweepBatches(ctx, runs)
	}
	return err
}

// countActive reports how many runs are active, per environment and
// phase, zeros included so that a gauge falls back when runs end.
func (e *Engine) countActive(runs []*Run) {
	type k struct {
		env   string
		phase Phase
	}
	n := map[k]int{}
	for _, r := range runs {
		n[k{r.Key.Environment, r.Phase}]++
	}
	for _, env := range e.policy.EnvironmentNames() {
		for _, p := range []Phase{PhaseRunning, PhaseWaiting, PhasePaused} {
			e.obs.Active(env, p, n[k{env, p}])
		}
	}
}

// startDrive drives the run in its own goroutine unless this replica is
// already driving it.
func (e *Engine) startDrive(ctx context.Context, id string) {
	e.mu.Lock()
	if _, busy := e.driving[id]; busy {
		e.driving[id] = true
		e.mu.Unlock()
		return
	}
	e.driving[id] = false
	e.drives.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.drives.Done()
		for {
			select {
			case e.slots <- struct{}{}:
			case <-ctx.Done():
				e.mu.Lock()
				delete(e.driving, id)
				e.mu.Unlock()
				return
			}
			if isBatch(id) {
				e.driveBatch(ctx, id)
			} else {
				e.drive(ctx, id)
			}
			<-e.slots
			e.mu.Lock()
			if again := e.driving[id]; !again || ctx.Err() != nil {
				delete(e.driving, id)
				e.mu.Unlock()
				return
			}
			e.driving[id] = false
			e.mu.Unlock()
		}
	}()
}

// drive executes a run's steps while it is running, holding the run's
// lease so that no other replica executes them at the same time. Waiting
// and paused runs only get their thread brought up to date.
func (e *Engine) drive(ctx context.Context, id string) {
	ok, err := e.store.Claim(ctx, id, e.owner, e.leaseTTL)
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			e.log.Warn("claim run", "run", id, "err", err)
		}
		return
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	wd := &watchdog{}
	wd.arm(e.stepDur)
	ctx = context.WithValue(ctx, watchdogKey{}, wd)
	go e.renewLease(ctx, stop, id, wd)
	defer func() {
		// A release on a cancelled context would fail; the lease lapses.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if ctx.Err() == nil {
			_ = e.store.Release(rctx, id, e.owner)
		}
	}()
	for ctx.Err() == nil {
		run, err := e.store.Run(ctx, id)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("load run", "run", id, "err", err)
			}
			return
		}
		wd.arm(e.stepDur)
		if err := e.noteTakeover(ctx, run); err != nil {
			if !errors.Is(err, ErrConflict) && ctx.Err() == nil {
				e.runLog(run).Error("record the takeover", "err", err)
				return
			}
			continue
		}
		if err := e.publish(ctx, run); err != nil && ctx.Err() == nil {
			e.runLog(run).Warn("bring thread up to date", "err", err)
		}
		if run.Phase != PhaseRunning {
			return
		}
		at := run.Step
		wd.arm(e.stepBudget(run))
		err = e.step(ctx, run)
		switch {
		case err == nil:
		case errors.Is(err, ErrConflict):
			// Someone else changed the run (a cancel, another replica):
			// load it again and decide afresh.
		case ctx.Err() != nil:
			return
		case errors.Is(err, errEndPending):
			e.runLog(run).Warn("run ended; its last messages wait for the next sweep", "err", err)
			return
		default:
			e.runLog(run).Error("step", "step", run.Step, "err", err)
			if perr := e.pauseOnError(ctx, run.ID, at, err); perr != nil && !errors.Is(perr, ErrConflict) {
				e.runLog(run).Error("pause run", "err", perr)
				return
			}
		}
	}
}

// renewLease keeps the run's lease while its drive makes progress or
// waits within a known deadline (see watchdog). Once the drive has
// overrun, it stops renewing and cancels the drive: a call stuck past
// every timeout must not hold the run for ever, so the lease lapses and
// another replica (or this one, once the call returns) drives the run
// again from its last saved state.
func (e *Engine) renewLease(ctx context.Context, stop context.CancelFunc, id string, wd *watchdog) {
	every(ctx, e.leaseTTL/3, func() bool {
		if over := wd.overrun(); over > 0 {
			e.log.Error("run stuck: its step made no progress past its deadline; leaving the lease to lapse so another replica can take the run over",
				"run", id, "overrun", over.Round(time.Millisecond))
			stop()
			return true
		}
		ok, err := e.store.Claim(ctx, id, e.owner, e.leaseTTL)
		if err != nil && ctx.Err() == nil {
			e.log.Warn("renew lease", "run", id, "err", err)
			return false
		}
		if !ok {
			e.log.Warn("lease lost: another replica drives the run", "run", id)
			stop()
			return true
		}
		return false
	})
}

// stepBudget is how long the run's current step may take without saving
// progress: the waits it knows the length of plus StepTimeout for its
// single calls.
func (e *Engine) stepBudget(run *Run) time.Duration {
	env := e.policy.Environments[run.Key.Environment]
	switch run.Step {
	case StepSync:
		return env.SyncTimeout + e.stepDur
	case StepVerify:
		return env.VerifyTimeout + e.stepDur
	}
	return e.stepDur
}

// save writes the run with compare-and-set and wakes anyone waiting on it.
func (e *Engine) save(ctx context.Context, run *Run) error {
	run.UpdatedAt = e.clock.Now()
	run.redactText()
	e.stampDriver(ctx, run)
	if err := e.store.UpdateRun(ctx, run); err != nil {
		return fmt.Errorf("save run %s: %w", run.ID, err)
	}
	if wd, ok := ctx.Value(watchdogKey{}).(*watchdog); ok {
		wd.progress()
	}
	e.remember(run)
	if run.Batch != "" {
		e.kick(run.Batch)
	}
	e.mu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
	return nil
}

// publish brings the run's thread in line with the run and stores the
// receipts. A lost race on the receipts is harmless: the other writer
// publishes too.
func (e *Engine) publish(ctx context.Context, run *Run) error {
	receipts, err := e.notifier.Sync(ctx, run)
	if len(receipts) == 0 {
		return err
	}
	changed := false
	if run.Receipts == nil {
		run.Receipts = map[string]Receipt{}
	}
	for id, rc := range receipts {
		if run.Receipts[id] != rc {
			run.Receipts[id] = rc
			changed = true
		}
	}
	if st, ok := receipts[StatusPostID]; ok && run.Thread.TS == "" {
		run.Thread.TS = st.TS
		changed = true
	}
	if !changed {
		return err
	}
	if serr := e.save(ctx, run); serr != nil && !errors.Is(serr, ErrConflict) {
		return errors.Join(err, serr)
	}
	return err
}

// WaitFor waits until the run satisfies cond, or ctx ends. It wakes on
// this engine's own writes and re-reads the store every poll interval for
// other replicas' writes.
func (e *Engine) WaitFor(ctx context.Context, id string, cond func(*Run) bool) (*Run, error) {
	const poll = 50 * time.Millisecond
	for {
		e.mu.Lock()
		ch := e.changed
		e.mu.Unlock()
		run, err := e.store.Run(ctx, id)
		if err == nil && cond(run) {
			return run, nil
		}
		if err != nil && !errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			if run == nil {
				return nil, ctx.Err()
			}
			return run, fmt.Errorf("run %s (phase %s, step %s): %w", id, run.Phase, run.Step, ctx.Err())
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}

// Run loads one run.
func (e *Engine) Get(ctx context.Context, id string) (*Run, error) {
	return e.store.Run(ctx, id)
}

// Active lists the active runs.
func (e *Engine) Active(ctx context.Context) ([]*Run, error) {
	return e.store.ActiveRuns(ctx)
}

// AuditTrail reads a run's audit trail.
func (e *Engine) AuditTrail(ctx context.Context, id string) ([]AuditEntry, error) {
	return e.store.AuditTrail(ctx, id)
}

// audit appends to the run's trail; a failure is logged, not fatal: the
// thread shows the same facts.
func (e *Engine) audit(ctx context.Context, run *Run, actor, action, outcome, detail string) {
	err := e.store.Audit(ctx, AuditEntry{RunID: run.ID, At: e.clock.Now(), Actor: actor, Action: action, Outcome: outcome, Detail: token.Redact(detail)})
	if err != nil && ctx.Err() == nil {
		e.runLog(run).Error("audit", "action", action, "err", err)
	}
}

func (e *Engine) runLog(run *Run) *slog.Logger {
	return e.log.With("run", run.ID, "environment", run.Key.Environment, "api_user", run.Key.APIUser, "application", run.Key.Application)
}

// randomID returns n*8/5 characters of unguessable lower-case base32.
func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("flows: read random: %v", err))
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// NewID returns a new unguessable identifier with a prefix ("r" for runs,
// "o" for offers).
func NewID(prefix string) string { return prefix + "-" + randomID(10) }
