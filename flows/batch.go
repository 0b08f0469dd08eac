package flows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Batch is several runs in one environment that pass their gates
// together: one sync confirmation and one revoke confirmation for all of
// them, in one thread with one status message. Each member run keeps its
// own steps and intents, so crash-safety holds per token; the batch only
// records which gates were passed for which members.
type Batch struct {
	Schema      int    `json:"schema"`
	ID          string `json:"id"`
	Version     int64  `json:"version"`
	Environment string `json:"environment"`
	// Members are the runs of the batch, in the order they were asked for.
	Members   []string  `json:"members"`
	StartedBy string    `json:"started_by"`
	Thread    Thread    `json:"thread"`
	Origin    Origin    `json:"origin"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Ended     bool      `json:"ended,omitempty"`
	// Gate is the batch's open question; Covers are the member runs it
	// asks for, each waiting at a gate of the same kind.
	Gate   *Gate    `json:"gate,omitempty"`
	Covers []string `json:"covers,omitempty"`
	// Passed are the answers given, each naming the runs it covers.
	Passed   []BatchApproval    `json:"passed,omitempty"`
	Posts    []Post             `json:"posts,omitempty"`
	Receipts map[string]Receipt `json:"receipts,omitempty"`
}

// BatchApproval is a batch gate answered.
type BatchApproval struct {
	Gate   GateKind  `json:"gate"`
	GateID string    `json:"gate_id"`
	Action Action    `json:"action"`
	User   string    `json:"user"`
	At     time.Time `json:"at"`
	Runs   []string  `json:"runs"`
}

// Approval returns the answer to the batch gate with this id, if given.
func (b *Batch) Approval(gateID string) (BatchApproval, bool) {
	for _, a := range b.Passed {
		if a.GateID == gateID {
			return a, true
		}
	}
	return BatchApproval{}, false
}

// BatchStore keeps batches, with the same compare-and-set on Version as
// runs.
type BatchStore interface {
	CreateBatch(ctx context.Context, b *Batch) error
	// Batch loads a batch, or ErrBatchNotFound.
	Batch(ctx context.Context, id string) (*Batch, error)
	// UpdateBatch writes b if the stored Version equals b.Version, and
	// bumps it; ErrConflict if another writer won. An ended batch leaves
	// the active list and is kept for the retention time.
	UpdateBatch(ctx context.Context, b *Batch) error
	// ActiveBatches lists the batches that have not ended.
	ActiveBatches(ctx context.Context) ([]*Batch, error)
}

// BatchNotifier puts a batch's status message (pages "status-0", ...)
// and its posts in its thread, as Notifier does for a run.
type BatchNotifier interface {
	SyncBatch(ctx context.Context, b *Batch, runs []*Run) (map[string]Receipt, error)
}

// ErrBatchNotFound: no batch has this id.
var ErrBatchNotFound = errors.New("batch not found")

// BatchStatusID is the receipt key of a batch's first status page; page
// i is BatchStatusID + "-i".
const BatchStatusID = "status-0"

// MaxBatch bounds the runs a batch starts: a grouped alert for more is
// two clicks.
const MaxBatch = 500

// BatchRequest asks for a batch of rotations.
type BatchRequest struct {
	// Mode is ModeRotate (the default) or ModeCleanup.
	Mode   Mode
	Keys   []Key
	Actor  string
	Thread Thread
	Origin Origin
}

// BatchStarted is what StartBatch did: the batch, the runs it started,
// and the tokens it did not start with the reason for each.
type BatchStarted struct {
	Batch   *Batch
	Runs    []*Run
	Refused []BatchRefusal
}

// BatchRefusal is a token a batch did not start.
type BatchRefusal struct {
	Key Key
	Err error
	// Run is the run already under way for the token, if that is why.
	Run *Run
}

// StartBatch checks the request and the user's authority once, records
// the batch, posts its status message and starts a run per token. Tokens
// that cannot start (a special case, a run already under way) are
// refused one by one; the batch goes on with the rest.
func (e *Engine) StartBatch(ctx context.Context, req BatchRequest) (*BatchStarted, error) {
	if e.batches == nil {
		return nil, errors.New("flows: this store keeps no batches")
	}
	if len(req.Keys) == 0 {
		return nil, fmt.Errorf("%w: no token to rotate", ErrBadInput)
	}
	if req.Mode == "" {
		req.Mode = ModeRotate
	}
	if req.Mode != ModeRotate && req.Mode != ModeCleanup {
		return nil, fmt.Errorf("%w: a batch rotates or cleans up, not %s", ErrBadInput, Quote(string(req.Mode)))
	}
	if len(req.Keys) > MaxBatch {
		return nil, fmt.Errorf("%w: %d tokens are more than one batch takes (%d)", ErrBadInput, len(req.Keys), MaxBatch)
	}
	env := req.Keys[0].Environment
	var keys []Key
	for _, k := range req.Keys {
		k.APIUser = strings.ToLower(k.APIUser)
		if err := k.Validate(); err != nil {
			return nil, err
		}
		if k.Environment != env {
			return nil, fmt.Errorf("%w: a batch rotates tokens of one environment, not %s and %s", ErrBadInput, env, k.Environment)
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	envp, err := e.environment(env)
	if err != nil {
		return nil, err
	}
	if !envp.Rotate {
		return nil, &RefusedError{Special: SpecialCase{Kind: "staging", Reason: envp.NoRotateReason}}
	}
	what := "rotate tokens in " + env
	if ok, err := e.auth.allowed(ctx, env, req.Actor, roleStart); err != nil {
		return nil, fmt.Errorf("check who may %s: %w", what, err)
	} else if !ok {
		return nil, &DeniedError{User: req.Actor, What: what, Reason: "you are not among the configured starters for " + env}
	}
	now := e.clock.Now()
	b := &Batch{Schema: Schema, ID: NewID("b"), Environment: env, StartedBy: req.Actor, Thread: req.Thread, Origin: req.Origin, CreatedAt: now, UpdatedAt: now}
	if err := e.batches.CreateBatch(ctx, b); err != nil {
		return nil, fmt.Errorf("create batch: %w", err)
	}
	e.log.Info("batch started", "batch", b.ID, "by", req.Actor, "environment", env, "tokens", len(keys))
	// The runs talk in the batch's thread, which the status message may
	// start. Holding its drive and lease keeps a sweep, here or on
	// another replica, from posting it a second time.
	e.mu.Lock()
	e.driving[b.ID] = false
	e.mu.Unlock()
	if _, err = e.store.Claim(ctx, b.ID, e.owner, e.leaseTTL); err == nil {
		err = e.publishBatch(ctx, b, nil)
		_ = e.store.Release(ctx, b.ID, e.owner)
	}
	e.mu.Lock()
	delete(e.driving, b.ID)
	e.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("post the status of batch %s: %w", b.ID, err)
	}
	if b.Thread.TS == "" {
		return nil, fmt.Errorf("batch %s has no thread", b.ID)
	}
	out := &BatchStarted{Batch: b}
	results := make([]BatchRefusal, len(keys))
	runs := make([]*Run, len(keys))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, k := range keys {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			run, err := e.Start(ctx, StartRequest{Key: k, Mode: req.Mode, Actor: req.Actor, Thread: b.Thread, Origin: req.Origin, Batch: b.ID})
			if err != nil {
				results[i] = BatchRefusal{Key: k, Err: err, Run: run}
				return
			}
			runs[i] = run
		})
	}
	wg.Wait()
	var ids []string
	for i := range keys {
		if runs[i] != nil {
			out.Runs = append(out.Runs, runs[i])
			ids = append(ids, runs[i].ID)
		} else {
			out.Refused = append(out.Refused, results[i])
		}
	}
	b, err = e.adopt(ctx, b.ID, ids)
	if err != nil {
		return out, err
	}
	out.Batch = b
	e.kick(b.ID)
	return out, nil
}

// adopt adds runs to a batch's members (the runs a start recorded before
// a crash, too).
func (e *Engine) adopt(ctx context.Context, id string, ids []string) (*Batch, error) {
	return e.updateBatch(ctx, id, func(b *Batch) bool {
		changed := false
		for _, r := range ids {
			if !slices.Contains(b.Members, r) {
				b.Members = append(b.Members, r)
				changed = true
			}
		}
		return changed
	})
}

// updateBatch applies change until its compare-and-set wins; change
// returns false when there is nothing to write.
func (e *Engine) updateBatch(ctx context.Context, id string, change func(*Batch) bool) (*Batch, error) {
	for range 8 {
		b, err := e.batches.Batch(ctx, id)
		if err != nil {
			return nil, err
		}
		if !change(b) {
			return b, nil
		}
		b.UpdatedAt = e.clock.Now()
		if err := e.batches.UpdateBatch(ctx, b); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("save batch %s: %w", id, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("save batch %s: %w", id, ErrConflict)
}

// isBatch tells a batch id from a run id.
func isBatch(id string) bool { return strings.HasPrefix(id, "b-") }

// batchGate is the batch that asks a member's next gate, or "" when the
// run asks on its own: it left its batch by stopping on an error.
func (r *Run) batchGate() string {
	if r.Detached {
		return ""
	}
	return r.Batch
}

// BatchActRequest is a click on a batch's gate.
type BatchActRequest struct {
	BatchID string
	GateID  string
	Action  Action
	Actor   string
}

// ActBatch applies a click on a batch gate, under the same rules as a
// run's gate: the gate must be the batch's open one (by its stored id,
// never the button's say), the user must hold the role now, and a
// production revoke needs someone other than the starter. The answer is
// recorded on the batch first, then passed to each member run it covers,
// so a crash in between is finished by the next drive.
func (e *Engine) ActBatch(ctx context.Context, req BatchActRequest) (*Batch, error) {
	if e.batches == nil {
		return nil, ErrBatchNotFound
	}
	for range 5 {
		b, err := e.batches.Batch(ctx, req.BatchID)
		if err != nil {
			return nil, err
		}
		if b.Ended {
			return b, &StaleError{Reason: "This batch has ended."}
		}
		g := b.Gate
		if g == nil || g.ID != req.GateID {
			return b, &StaleError{Reason: "This question has been answered already or replaced by a newer one; see the latest message in the thread."}
		}
		if req.Action != ActionApprove && req.Action != ActionCancel {
			return b, fmt.Errorf("%w: %q is not a choice here", ErrBadInput, req.Action)
		}
		// The role rules are a run's: the batch stands in for its runs,
		// which share its environment and starter.
		proxy := &Run{Key: Key{Environment: b.Environment}, StartedBy: b.StartedBy, Gate: g}
		if err := e.checkRole(ctx, proxy, ActRequest{GateID: g.ID, Action: req.Action, Actor: req.Actor}); err != nil {
			if errors.As(err, new(*DeniedError)) {
				for _, id := range b.Covers {
					e.store.Audit(ctx, AuditEntry{RunID: id, At: e.clock.Now(), Actor: req.Actor, Action: string(req.Action), Outcome: "denied", Detail: "batch " + b.ID + ": " + err.Error()})
				}
			}
			return b, err
		}
		now := e.clock.Now()
		b.Passed = append(b.Passed, BatchApproval{Gate: g.Kind, GateID: g.ID, Action: req.Action, User: req.Actor, At: now, Runs: b.Covers})
		b.Gate, b.Covers, b.UpdatedAt = nil, nil, now
		if err := e.batches.UpdateBatch(ctx, b); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return b, fmt.Errorf("save batch %s: %w", b.ID, err)
		}
		e.log.Info("batch gate", "batch", b.ID, "gate", g.Kind, "action", req.Action, "by", req.Actor, "runs", len(b.Passed[len(b.Passed)-1].Runs))
		e.obs.GatePassed(b.Environment, g.Kind, now.Sub(g.OpenedAt))
		e.kick(b.ID)
		return b, nil
	}
	return nil, fmt.Errorf("act on batch %s: %w", req.BatchID, ErrConflict)
}

// driveBatch brings a batch along: it passes recorded answers on to the
// member runs, opens the next batch gate once no member is mid-step, ends
// the batch when every member has ended, and updates its thread.
func (e *Engine) driveBatch(ctx context.Context, id string) {
	if e.batches == nil {
		return
	}
	ok, err := e.store.Claim(ctx, id, e.owner, e.leaseTTL)
	if err != nil || !ok {
		return
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = e.store.Release(rctx, id, e.owner)
	}()
	for range 5 {
		b, err := e.batches.Batch(ctx, id)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("load batch", "batch", id, "err", err)
			}
			return
		}
		runs, err := e.batchRuns(ctx, b)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("load a batch's runs", "batch", id, "err", err)
			}
			return
		}
		e.propagate(ctx, b, runs)
		if e.advance(b, runs) {
			b.UpdatedAt = e.clock.Now()
			if err := e.batches.UpdateBatch(ctx, b); errors.Is(err, ErrConflict) {
				continue
			} else if err != nil {
				e.log.Error("save batch", "batch", id, "err", err)
				return
			}
			if e.policyDecides(b) {
				// A gate the policy passed goes to its runs next drive.
				e.kick(id)
			}
		}
		if err := e.publishBatch(ctx, b, runs); err != nil && ctx.Err() == nil {
			e.log.Warn("bring a batch's thread up to date", "batch", id, "err", err)
		}
		return
	}
}

// batchRuns loads a batch's member runs.
func (e *Engine) batchRuns(ctx context.Context, b *Batch) ([]*Run, error) {
	runs := make([]*Run, 0, len(b.Members))
	for _, id := range b.Members {
		r, err := e.store.Run(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load run %s of batch %s: %w", id, b.ID, err)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// atBatchGate: the run waits for the batch to answer a gate of this kind.
func atBatchGate(r *Run, b *Batch) bool {
	return r.Phase == PhaseWaiting && r.Gate != nil && r.Gate.Batch == b.ID && !r.Gate.Expired
}

// propagate passes each recorded batch answer to the covered runs still
// waiting at a batch gate of that kind. Each run is checked as a click on
// it would be, and written with compare-and-set: a run that moved on, or
// a lost race, is left to the next drive.
func (e *Engine) propagate(ctx context.Context, b *Batch, runs []*Run) {
	for _, a := range b.Passed {
		for _, run := range runs {
			if !slices.Contains(a.Runs, run.ID) || !atBatchGate(run, b) || run.Gate.Kind != a.Gate {
				continue
			}
			req := ActRequest{RunID: run.ID, GateID: run.Gate.ID, Action: a.Action, Actor: a.User}
			if !run.Gate.Accepts(a.Action) {
				continue
			}
			// The roles are asked again for each run, as a click on it
			// would be.
			if err := e.checkRole(ctx, run, req); err != nil {
				e.runLog(run).Warn("batch answer not passed to the run", "batch", b.ID, "err", err)
				continue
			}
			kind := run.Gate.Kind
			if err := e.apply(ctx, run, req); err != nil {
				e.runLog(run).Warn("batch answer not passed to the run", "batch", b.ID, "err", err)
				continue
			}
			if err := e.save(ctx, run); err != nil {
				if !errors.Is(err, ErrConflict) {
					e.runLog(run).Warn("pass a batch answer", "batch", b.ID, "err", err)
				}
				continue
			}
			e.audit(ctx, run, a.User, string(a.Action), "ok", e.auditDetail(a.User, string(kind)+" (batch "+b.ID+")"))
			if err := e.publish(ctx, run); err != nil {
				e.runLog(run).Warn("update thread", "err", err)
			}
			e.kick(run.ID)
		}
	}
}

// advance opens the batch's next gate, or ends it; it reports whether
// the batch changed.
func (e *Engine) advance(b *Batch, runs []*Run) bool {
	if b.Ended {
		return false
	}
	now := e.clock.Now()
	ended, busy := 0, false
	waiting := map[GateKind][]*Run{}
	for _, r := range runs {
		switch {
		case r.Ended():
			ended++
		case atBatchGate(r, b):
			if !b.Covered(r.ID, r.Gate.Kind) {
				waiting[r.Gate.Kind] = append(waiting[r.Gate.Kind], r)
			}
		case r.Phase == PhaseRunning && !r.Detached:
			busy = true
		}
	}
	if len(runs) > 0 && ended == len(runs) {
		b.Gate, b.Covers = nil, nil
		b.Ended, b.EndedAt = true, now
		b.post(Post{Step: StepDone, At: now, Title: batchSummaryTitle(runs), Lines: batchSummary(runs), Outcome: batchOutcome(runs)})
		e.log.Info("batch ended", "batch", b.ID, "runs", len(runs))
		return true
	}
	if b.Gate != nil || busy {
		return false
	}
	for _, kind := range []GateKind{GateSync, GateRevoke} {
		if w := waiting[kind]; len(w) > 0 {
			e.openBatchGate(b, kind, w, now)
			if kind == GateRevoke {
				b.heldBack(runs)
			}
			if e.policyDecides(b) {
				e.passByPolicy(b)
			}
			return true
		}
	}
	return false
}

// Covered: a recorded answer covers the run's gate of this kind.
func (b *Batch) Covered(runID string, kind GateKind) bool {
	for _, a := range b.Passed {
		if a.Gate == kind && slices.Contains(a.Runs, runID) {
			return true
		}
	}
	return false
}

// openBatchGate asks once for every run waiting at a gate of this kind,
// naming each.
func (e *Engine) openBatchGate(b *Batch, kind GateKind, runs []*Run, now time.Time) {
	g := Gate{ID: randomID(5), Kind: kind, OpenedAt: now, Actions: []Action{ActionApprove, ActionCancel}}
	// A gate the policy answers itself asks nobody.
	if !e.policyDecides(b) {
		g.Ping = e.policy.Ping(b.Environment, b.StartedBy)
	}
	var title string
	var lines []string
	switch kind {
	case GateSync:
		ns, cronJob := e.envs[b.Environment].Cluster.Location()
		title = fmt.Sprintf("Run the token sync job in %s for %s?", b.Environment, Count(len(runs), "token"))
		g.Prompt = "Run the sync job now?"
		lines = append(lines,
			fmt.Sprintf("This creates a Job from CronJob %s in namespace %s (%s), as Argo CD's \"Create job\" does. One Job writes the newest token of every API user into its Secret, so it serves all of these:", Code(cronJob), Code(ns), b.Environment))
		for _, r := range runs {
			lines = append(lines, fmt.Sprintf("• %s: Secret %s, read by %s", r.Label(), Code(r.SecretName), consumerList(r.Consumers)))
		}
	case GateRevoke:
		title = fmt.Sprintf("Revoke the old tokens of %s?", Count(len(runs), "verified rotation"))
		if runs[0].Mode == ModeCleanup {
			title = cleanupRevokeTitle(runs)
		}
		g.Prompt = title
		for _, r := range runs {
			var old []string
			for _, t := range r.OldTokens {
				old = append(old, fmt.Sprintf("#%d (fingerprint %s, expires %s)", t.ID, Code(t.Fingerprint.Short()), Date(t.ExpiresAt)))
			}
			line := fmt.Sprintf("• %s: revokes %s", r.Label(), strings.Join(old, ", "))
			if r.NewToken != nil {
				line += fmt.Sprintf("; keeps #%d (fingerprint %s)", r.NewToken.ID, Code(r.NewToken.Fingerprint.Short()))
			}
			lines = append(lines, line)
		}
		if starter := b.firstPerson(); e.policy.Environments[b.Environment].FourEyesRevoke && starter != "" {
			g.NotUser = starter
			lines = append(lines, fmt.Sprintf("In %s someone other than %s must confirm.", b.Environment, Mention(starter)))
		}
	}
	b.Gate = &g
	b.Covers = nil
	for _, r := range runs {
		b.Covers = append(b.Covers, r.ID)
	}
	b.post(Post{Step: Step(kind), At: now, Title: title, Lines: lines, Gate: g.ID, Ping: g.Ping})
}

func consumerList(cs []Consumer) string {
	if len(cs) == 0 {
		return "no workload"
	}
	return strings.Join(WorkloadNames(cs), ", ")
}

func (b *Batch) post(p Post) {
	p.ID = fmt.Sprintf("%02d-%s", len(b.Posts), p.Step)
	b.Posts = append(b.Posts, p)
}

func batchOutcome(runs []*Run) string {
	for _, r := range runs {
		if r.Phase != PhaseDone {
			return "warning"
		}
	}
	return "ok"
}

func batchSummaryTitle(runs []*Run) string {
	done := 0
	for _, r := range runs {
		if r.Phase == PhaseDone {
			done++
		}
	}
	if runs[0].Mode == ModeCleanup {
		return fmt.Sprintf("Clean-up ended: %d of %d pairs cleaned up", done, len(runs))
	}
	if done == len(runs) {
		return fmt.Sprintf("Batch complete: %d of %d rotations done", done, len(runs))
	}
	return fmt.Sprintf("Batch ended: %d of %d rotations done", done, len(runs))
}

// batchSummary names the runs that did not end done, with why.
func batchSummary(runs []*Run) []string {
	var lines []string
	for _, r := range runs {
		if r.Phase == PhaseDone {
			continue
		}
		line := fmt.Sprintf("%s: %s", r.Label(), r.Phase)
		if r.Reason != "" {
			line += " (" + Untrusted(r.Reason) + ")"
		}
		lines = append(lines, line)
	}
	return lines
}

// publishBatch brings the batch's thread in line and stores the receipts.
func (e *Engine) publishBatch(ctx context.Context, b *Batch, runs []*Run) error {
	if e.bnotify == nil {
		return errors.New("flows: the notifier cannot show batches")
	}
	receipts, err := e.bnotify.SyncBatch(ctx, b, runs)
	if len(receipts) == 0 {
		return err
	}
	_, serr := e.updateBatch(ctx, b.ID, func(s *Batch) bool {
		if s.Receipts == nil {
			s.Receipts = map[string]Receipt{}
		}
		changed := false
		for id, rc := range receipts {
			if s.Receipts[id] != rc {
				s.Receipts[id] = rc
				changed = true
			}
		}
		if st, ok := receipts[BatchStatusID]; ok && s.Thread.TS == "" {
			s.Thread.TS = st.TS
			changed = true
		}
		*b = *s
		return changed
	})
	return errors.Join(err, serr)
}

// sweepBatches adds runs a crash left out of their batch, and drives
// every active batch.
func (e *Engine) sweepBatches(ctx context.Context, runs []*Run) error {
	if e.batches == nil {
		return nil
	}
	byBatch := map[string][]string{}
	for _, r := range runs {
		if r.Batch != "" {
			byBatch[r.Batch] = append(byBatch[r.Batch], r.ID)
		}
	}
	batches, err := e.batches.ActiveBatches(ctx)
	for _, b := range batches {
		if missing := slices.DeleteFunc(byBatch[b.ID], func(id string) bool { return slices.Contains(b.Members, id) }); len(missing) > 0 {
			if _, aerr := e.adopt(ctx, b.ID, missing); aerr != nil {
				e.log.Warn("add runs to their batch", "batch", b.ID, "err", aerr)
			}
		}
		e.startDrive(ctx, b.ID)
	}
	return err
}

// GetBatch loads a batch.
func (e *Engine) GetBatch(ctx context.Context, id string) (*Batch, error) {
	if e.batches == nil {
		return nil, ErrBatchNotFound
	}
	return e.batches.Batch(ctx, id)
}

// BatchRuns loads a batch's member runs.
func (e *Engine) BatchRuns(ctx context.Context, b *Batch) ([]*Run, error) {
	return e.batchRuns(ctx, b)
}

// batchDetail names a run that leaves its batch: its token, its
// fingerprints and, unless a table of who holds which token lists them
// already, its consumers.
func batchDetail(run *Run, consumers bool) []string {
	lines := []string{"This token stops here alone; the rest of its batch goes on."}
	var fps []string
	for _, t := range run.OldTokens {
		fps = append(fps, fmt.Sprintf("old #%d %s", t.ID, Code(t.Fingerprint.Short())))
	}
	if run.NewToken != nil {
		fps = append(fps, fmt.Sprintf("new #%d %s", run.NewToken.ID, Code(run.NewToken.Fingerprint.Short())))
	}
	if len(fps) > 0 {
		lines = append(lines, "Fingerprints: "+strings.Join(fps, ", ")+".")
	}
	if consumers && run.SecretName != "" {
		lines = append(lines, consumerLines(run)...)
	}
	return lines
}
