package flows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// step executes the run's current step: at most one side effect, its
// intent recorded first and its outcome after, each with compare-and-set.
func (e *Engine) step(ctx context.Context, run *Run) error {
	if run.CancelBy != "" && run.EndAs == "" && !inFlight(run) {
		return e.cancel(ctx, run, run.CancelBy)
	}
	started := e.clock.Now()
	var err error
	switch run.Step {
	case StepInspect:
		err = e.inspect(ctx, run)
	case StepIssue:
		err = e.issue(ctx, run)
	case StepSync:
		err = e.sync(ctx, run)
	case StepVerify:
		err = e.verify(ctx, run)
	case StepRevoke, StepRevokeDisused:
		err = e.revoke(ctx, run)
	case StepRollback:
		err = e.rollback(ctx, run)
	case StepDone:
		if run.EndAs != "" {
			err = e.end(ctx, run, run.EndAs, run.Reason)
		} else {
			err = e.finish(ctx, run)
		}
	default:
		err = fmt.Errorf("run %s is at unknown step %q", run.ID, run.Step)
	}
	if err == nil {
		e.obs.StepDone(run.Key.Environment, run.Step, true, e.clock.Now().Sub(started))
	}
	return err
}

// inspect reads what the runbook asks an engineer to look at: the tokens
// (Start read them from Signon), the Secret and who consumes it.
func (e *Engine) inspect(ctx context.Context, run *Run) error {
	cl := e.envs[run.Key.Environment].Cluster
	secret := cl.SecretName(run.APIUserName, run.ApplicationName)
	consumers, err := cl.Consumers(ctx, secret)
	if err != nil {
		return fmt.Errorf("find the workloads that read Secret %s: %w", secret, err)
	}
	if run.Unsynced {
		// What reads the Secret holds a token the sync no longer writes.
		consumers = nil
	}
	state, err := cl.Secret(ctx, secret)
	if err != nil {
		return fmt.Errorf("read Secret %s: %w", secret, err)
	}
	now := e.clock.Now()
	run.SecretName, run.Consumers, run.Secret = secret, consumers, state

	live := unrevoked(run.Tokens)
	lines := []string{lastChecked(defuse(run.ApplicationName), run.LastSyncedAt, now, e.policy.Untracked(run.Key.Application))}
	for _, t := range live {
		lines = append(lines, "Unrevoked: "+describeToken(t)+".")
	}
	lines = append(lines, consumerLines(run)...)

	if run.Mode == ModeRevokeDisused {
		run.OldTokens = live
		run.mark(StepInspect, StepOK, Count(len(live), "unrevoked token"), now)
		run.post(Post{Step: StepInspect, At: now, Title: "Inspected " + run.Label(), Lines: lines})
		e.openRevokeGate(run, StepRevokeDisused, now)
		return e.save(ctx, run)
	}
	if run.Mode == ModeCleanup {
		return e.inspectCleanup(ctx, run, live, lines, now)
	}

	due := now.Add(e.policy.ExpiryWindow)
	switch {
	case len(live) > 0 && !live[0].ExpiresBefore(due) && len(live) == 1:
		run.mark(StepInspect, StepOK, "nothing to rotate", now)
		run.post(Post{Step: StepInspect, At: now, Title: "Nothing to rotate for " + run.Label(), Outcome: "ok",
			Lines: append(lines, fmt.Sprintf("The only unrevoked token expires %s, outside the %s alert window: it was rotated already.", When(live[0].ExpiresAt), Elapsed(e.policy.ExpiryWindow)))})
		return e.end(ctx, run, PhaseDone, "nothing to rotate")
	case len(live) > 0 && !live[0].ExpiresBefore(due):
		nt := live[0]
		run.NewToken, run.NewTokenExisting = &nt, true
		run.OldTokens = olderThan(live[1:], nt)
		lines = append(lines, fmt.Sprintf("Signon already has a newer token (#%d, made %s), probably by its nightly auto-rotation: the bot will use it and issue none.", nt.ID, When(nt.CreatedAt)))
	default:
		run.OldTokens = live
	}
	if external(run) && !run.NewTokenExisting {
		if _, ok := PolicyEnvironment(run.StartedBy); ok {
			return e.leaveToRequester(ctx, run, lines, now)
		}
	}
	plan := []Step{StepClassify, StepInspect, StepIssue, StepSync, StepVerify, StepRevoke}
	if external(run) {
		plan = []Step{StepClassify, StepInspect, StepIssue, StepHandoff, StepRevoke}
	}
	run.replan(plan)
	run.mark(StepInspect, StepOK, Count(len(consumers), "consumer"), now)
	run.post(Post{Step: StepInspect, At: now, Title: "Inspected " + run.Label(), Lines: lines})
	run.moveTo(StepIssue, now)
	return e.save(ctx, run)
}

// issue makes the new token, at most once per run: the intent is stored
// before Signon is asked, and Signon returns the token made after the
// intent instead of making another.
func (e *Engine) issue(ctx context.Context, run *Run) error {
	now := e.clock.Now()
	if run.NewToken != nil {
		if run.NewTokenExisting {
			run.mark(StepIssue, StepSkipped, fmt.Sprintf("newer token #%d exists", run.NewToken.ID), now)
		}
		return e.afterIssue(ctx, run, now)
	}
	in, ok := run.Intent(EffectIssue, "")
	if !ok {
		in = run.addIntent(EffectIssue, "", now)
		if err := e.save(ctx, run); err != nil {
			return err
		}
	}
	issued, err := e.envs[run.Key.Environment].Signon.Issue(ctx, IssueRequest{
		Email:       run.Key.APIUser,
		Application: run.ApplicationName,
		IntentAt:    in.At,
		Initiator:   e.email(ctx, run.StartedBy),
		RunID:       run.ID,
		Requester:   person(run.StartedBy),
	})
	if err != nil {
		return fmt.Errorf("issue a token in Signon: %w", err)
	}
	now = e.clock.Now()
	t := issued.Token
	run.NewToken = &t
	run.Initiator = issued.Initiator
	run.OldTokens = olderThan(unrevoked(run.Tokens), t)
	run.completeIntent(EffectIssue, "", strconv.FormatInt(t.ID, 10), now)
	run.mark(StepIssue, StepOK, fmt.Sprintf("token #%d", t.ID), now)
	lines := []string{
		fmt.Sprintf("New %s.", describeToken(t)),
		"Signon records the change as " + initiatorText(run.Initiator, run.StartedBy) + ".",
	}
	if issued.Existing {
		lines = append(lines, "Signon already had the token this run asked for before a restart; no second token was made.")
	}
	run.post(Post{Step: StepIssue, At: now, Title: "Issued a new token for " + run.Label(), Lines: lines, Outcome: "ok"})
	e.audit(ctx, run, run.StartedBy, "issue", "ok", fmt.Sprintf("token %d fingerprint %s", t.ID, t.Fingerprint))
	return e.afterIssue(ctx, run, now)
}

// afterIssue opens the next gate: the hand-off for an external consumer,
// else the sync (unless the Secret holds the new token already).
func (e *Engine) afterIssue(ctx context.Context, run *Run, now time.Time) error {
	ns, cronJob := e.location(run)
	switch {
	case external(run):
		lines := []string{
			fmt.Sprintf("Nothing in namespace %s reads Secret %s, so this token is used outside the cluster.", Code(ns), Code(run.SecretName)),
			fmt.Sprintf("%s: reveal it (only you can see it), send it securely to its consumer, then confirm delivery.", Mention(run.StartedBy)),
		}
		run.openGate(Gate{Kind: GateHandoff, OpenedAt: now, ExpiresAt: now.Add(e.policy.HandoffTTL), OnlyUser: run.StartedBy,
			Actions: []Action{ActionReveal, ActionDelivered, ActionRollback, ActionCancel}, Prompt: "Hand the new token to its consumer"},
			StepHandoff, "Hand-off: the new token goes to a consumer outside the cluster", lines)
	case run.Secret.Fingerprint != "" && run.Secret.Fingerprint == run.NewToken.Fingerprint:
		run.mark(StepSync, StepSkipped, "Secret already holds the new token", now)
		run.post(Post{Step: StepSync, At: now, Title: "No sync needed",
			Lines: []string{fmt.Sprintf("Secret %s already holds the new token (fingerprint %s): the nightly sync ran after it was made.", Code(run.SecretName), Code(run.NewToken.Fingerprint.Short()))}})
		run.moveTo(StepVerify, now)
	default:
		lines := []string{
			fmt.Sprintf("This creates a Job from CronJob %s in namespace %s (%s), as Argo CD's \"Create job\" does.", Code(cronJob), Code(ns), run.Key.Environment),
			fmt.Sprintf("It writes the newest token of every API user into its Secret; this one's is %s.", Code(run.SecretName)),
		}
		lines = append(lines, consumerLines(run)...)
		run.openGate(Gate{Kind: GateSync, OpenedAt: now, ExpiresAt: now.Add(e.policy.GateTTL), Batch: run.batchGate(), Ping: e.ping(run),
			Actions: []Action{ActionApprove, ActionCancel, ActionRollback}, Prompt: "Run the sync job now?"},
			StepSync, "Run the token sync job in "+run.Key.Environment+"?", lines)
	}
	return e.save(ctx, run)
}

// sync waits for a sync Job that writes the new token: one another run
// or the schedule started after the token was issued, else its own (see
// syncJobFor). The run records the Job it relies on, and finds it again
// after a crash.
func (e *Engine) sync(ctx context.Context, run *Run) error {
	env := e.policy.Environments[run.Key.Environment]
	cl := e.envs[run.Key.Environment].Cluster
	in, ok := pendingIntent(run, EffectSync)
	if !ok {
		in = run.addIntent(EffectSync, strconv.Itoa(run.attempts(EffectSync)+1), e.clock.Now())
		run.SyncJob = nil
		run.mark(StepSync, StepRunning, "finding a sync Job", e.clock.Now())
		if err := e.save(ctx, run); err != nil {
			return err
		}
	}
	after := issuedAt(run)
	for missed := 0; ; missed++ {
		if run.SyncJob == nil || run.SyncJob.Earlier {
			job, err := e.syncJobFor(ctx, run, run.ID+"."+in.Target, after)
			if err != nil {
				return err
			}
			run.SyncJob = &job
			run.mark(StepSync, StepRunning, "Job "+job.Name, e.clock.Now())
			if err := e.save(ctx, run); err != nil {
				return err
			}
			_ = e.publish(ctx, run)
		}
		job := *run.SyncJob
		wctx, cancel := context.WithTimeout(ctx, env.SyncTimeout)
		res, err := cl.WaitSync(wctx, job.Name, run.SecretName, func(p SyncProgress) {
			e.runLog(run).Info("sync progress", "job", p.Job, "phase", p.Phase)
		})
		cancel()
		if err != nil {
			return fmt.Errorf("wait for sync Job %s: %w", job.Name, err)
		}
		now := e.clock.Now()
		run.Sync = &res
		if !res.Succeeded {
			run.completeIntent(EffectSync, in.Target, "failed", now)
			e.audit(ctx, run, "bot", "sync", "failed", job.Name)
			return e.pause(ctx, run, StepSync, fmt.Sprintf("Sync Job %s failed. %s", job.Name, e.jobLogs(run, job.Name)), res.LogTail, res.Events)
		}
		st, err := cl.Secret(ctx, run.SecretName)
		if err != nil {
			return fmt.Errorf("read Secret %s after the sync: %w", run.SecretName, err)
		}
		run.Secret = st
		if st.Fingerprint != run.NewToken.Fingerprint && job.Adopted && missed < maxMissedJobs {
			// The Job started in the same second as the token was issued
			// and read Signon before it: the next Job will have it.
			e.runLog(run).Info("shared sync Job missed the new token; asking for the next", "job", job.Name)
			after = job.StartedAt.Truncate(time.Second).Add(time.Second)
			run.SyncJob = nil
			if err := e.save(ctx, run); err != nil {
				return err
			}
			continue
		}
		if st.Fingerprint != run.NewToken.Fingerprint {
			return e.pause(ctx, run, StepSync, fmt.Sprintf("The sync Job finished but Secret %s holds fingerprint %s, not the new token's %s.", run.SecretName, st.Fingerprint.Short(), run.NewToken.Fingerprint.Short()), res.SecretLines, nil)
		}
		run.completeIntent(EffectSync, in.Target, "succeeded", now)
		e.audit(ctx, run, "bot", "sync", "ok", job.Name)
		job.Runs = e.syncedWith(run, job.Name)
		run.SyncJob = &job
		run.mark(StepSync, StepOK, Elapsed(res.CompletedAt.Sub(res.StartedAt)), now)
		run.post(Post{Step: StepSync, At: now, Title: "Synced the token into Kubernetes", Lines: append(syncLines(run, job, res), e.jobLogs(run, job.Name)), Code: res.SecretLines, Outcome: "ok"})
		run.moveTo(StepVerify, now)
		return e.save(ctx, run)
	}
}

// syncLines say which Job wrote the token, and which other runs it served.
func syncLines(run *Run, job SyncJob, res SyncResult) []string {
	lines := []string{fmt.Sprintf("Job %s finished in %s.", Code(job.Name), Elapsed(res.CompletedAt.Sub(res.StartedAt)))}
	if job.Adopted {
		lines = append(lines, "The bot started no Job for this run: this one started after the new token was issued, so it wrote it too.")
	}
	if len(job.Runs) > 1 {
		lines = append(lines, fmt.Sprintf("It synced %d runs together: %s.", len(job.Runs), strings.Join(job.Runs, ", ")))
	}
	return append(lines, fmt.Sprintf("Secret %s now holds the new token (fingerprint %s).", Code(run.SecretName), Code(run.Secret.Fingerprint.Short())))
}

// verify proves every consumer holds the new token: the Secret, each
// Deployment rolled, the variable inside a ready pod, and the live check.
// Any failure pauses the run with the old token intact.
func (e *Engine) verify(ctx context.Context, run *Run) error {
	if reason, ok := unprovable(run); ok {
		return e.pause(ctx, run, StepVerify, reason, nil, nil)
	}
	env := e.policy.Environments[run.Key.Environment]
	cl := e.envs[run.Key.Environment].Cluster
	if err := e.restartRequested(ctx, run); err != nil {
		return err
	}
	vctx, cancel := context.WithTimeout(ctx, env.VerifyTimeout)
	defer cancel()
	want := run.NewToken.Fingerprint
	run.Rollouts, run.Checks, run.Live, run.Holders = nil, nil, nil, nil
	st, err := cl.Secret(vctx, run.SecretName)
	if err != nil {
		return fmt.Errorf("read Secret %s: %w", run.SecretName, err)
	}
	run.Secret = st
	if st.Fingerprint != want {
		return e.pause(ctx, run, StepVerify, fmt.Sprintf("Secret %s holds fingerprint %s, not the new token's %s.", run.SecretName, st.Fingerprint.Short(), want.Short()), nil, nil)
	}
	since := rolloutSince(run)
	lines := []string{fmt.Sprintf("Secret %s holds the new token (fingerprint %s).", Code(run.SecretName), Code(want.Short()))}
	var stale []string
	idle := map[string]bool{} // Deployments scaled to zero
	for _, dep := range deployments(run.Consumers) {
		ro, err := cl.WaitRollout(vctx, dep, since, env.RolloutStartTimeout)
		ro.Deployment = dep
		run.Rollouts = append(run.Rollouts, ro)
		if errors.Is(err, ErrRolloutNotStarted) {
			stale = append(stale, dep)
			continue
		}
		if err != nil {
			// The pause that follows reads the run afresh: keep the
			// rollouts seen, which its report reads.
			if serr := e.save(ctx, run); serr != nil {
				e.runLog(run).Warn("record the rollouts seen", "err", serr)
			}
			return fmt.Errorf("wait for Deployment %s to roll out: %w", dep, err)
		}
		if ro.Replicas == 0 {
			idle[dep] = true
			lines = append(lines, fmt.Sprintf("deploy/%s has 0 replicas: nothing to check. Its pods will start with whatever the Secret holds.", dep))
			continue
		}
		lines = append(lines, fmt.Sprintf("deploy/%s rolled out: %d/%d pods ready.", dep, ro.Ready, ro.Replicas))
	}
	if len(stale) > 0 {
		return e.pause(ctx, run, StepVerify, fmt.Sprintf("Not rolled out since the Secret changed: %s (is Reloader running?). Restart, or retry.", strings.Join(stale, ", ")), nil, nil)
	}
	var mismatch string
	for _, c := range run.Consumers {
		if c.Kind != "Deployment" {
			lines = append(lines, fmt.Sprintf("cronjob/%s: nothing to check between runs; its next Job starts with whatever the Secret holds.", c.Name))
			continue
		}
		if idle[c.Name] {
			continue
		}
		checks, err := cl.CheckPods(vctx, c, want)
		if err != nil {
			return fmt.Errorf("check the token inside deploy/%s: %w", c.Name, err)
		}
		run.noteChecks(c.Name, checks)
		for _, pc := range checks {
			if !pc.Match {
				// Every consumer is still looked at: the Roll back
				// button says which of them hold the new token.
				if mismatch == "" {
					mismatch = fmt.Sprintf("Pod %s (container %s) holds fingerprint %s in %s, not the new token's %s.", pc.Pod, pc.Container, pc.Fingerprint.Short(), pc.Variable, want.Short())
				}
				continue
			}
			lines = append(lines, fmt.Sprintf("Pod %s: %s holds the new token.", pc.Pod, Code(pc.Variable)))
		}
	}
	if mismatch != "" {
		return e.pause(ctx, run, StepVerify, mismatch, nil, nil)
	}
	for _, c := range firstPerDeployment(run.Consumers) {
		if idle[c.Name] {
			continue
		}
		lc, err := cl.LiveCheck(vctx, c, run.Key.Application)
		if err != nil {
			return fmt.Errorf("live check from deploy/%s: %w", c.Name, err)
		}
		if !lc.Configured {
			continue
		}
		run.Live = append(run.Live, lc)
		if !lc.Passed {
			return e.pause(ctx, run, StepVerify, fmt.Sprintf("The live check from deploy/%s to %s failed.", c.Name, defuse(run.ApplicationName)), lc.Output, nil)
		}
		lines = append(lines, fmt.Sprintf("Live call from pod %s to %s with the new token succeeded.", lc.Pod, defuse(run.ApplicationName)))
	}
	now := e.clock.Now()
	run.mark(StepVerify, StepOK, Count(len(run.Checks), "pod check"), now)
	run.post(Post{Step: StepVerify, At: now, Title: "Verified: every consumer holds the new token", Lines: lines, Outcome: "ok"})
	e.audit(ctx, run, "bot", "verify", "ok", fmt.Sprintf("%d pods, %d live checks", len(run.Checks), len(run.Live)))
	e.openRevokeGate(run, StepRevoke, now)
	return e.save(ctx, run)
}

// restartRequested performs the Deployment restarts a user asked for.
func (e *Engine) restartRequested(ctx context.Context, run *Run) error {
	for _, in := range slices.Clone(run.Intents) {
		if in.Effect != EffectRestart || in.Done {
			continue
		}
		if err := e.envs[run.Key.Environment].Cluster.RestartDeployment(ctx, in.Target, in.At); err != nil {
			return fmt.Errorf("restart Deployment %s: %w", in.Target, err)
		}
		run.completeIntent(EffectRestart, in.Target, "restarted", e.clock.Now())
		e.audit(ctx, run, "bot", "restart", "ok", in.Target)
		if err := e.save(ctx, run); err != nil {
			return err
		}
	}
	return nil
}

// openRevokeGate asks before old tokens are revoked, listing each; with
// nothing to revoke the run is done.
func (e *Engine) openRevokeGate(run *Run, s Step, now time.Time) {
	if len(run.OldTokens) == 0 {
		run.mark(s, StepSkipped, "no older token", now)
		run.moveTo(StepDone, now)
		return
	}
	kind := GateRevoke
	title := "Revoke the old token?"
	if s == StepRevokeDisused {
		kind = GateRevokeDisused
		title = "Revoke the disused token?"
	}
	var lines []string
	for _, t := range run.OldTokens {
		lines = append(lines, "Revokes "+describeToken(t)+".")
	}
	if s == StepRevokeDisused {
		lines = append(lines, lastChecked(defuse(run.ApplicationName), run.LastSyncedAt, now, false))
		if len(run.Consumers) > 0 {
			lines = append(lines, fmt.Sprintf("Careful: %s still read Secret %s.", Count(len(run.Consumers), "workload"), Code(run.SecretName)))
		}
	} else if run.NewToken != nil {
		lines = append(lines, fmt.Sprintf("Keeps the new token #%d (fingerprint %s).", run.NewToken.ID, Code(run.NewToken.Fingerprint.Short())))
		if external(run) {
			lines = append(lines, handoffKnowledge(run)...)
		}
	}
	g := Gate{Kind: kind, OpenedAt: now, ExpiresAt: now.Add(e.policy.GateTTL), Actions: []Action{ActionApprove, ActionCancel}, Prompt: title, Batch: run.batchGate(), Ping: e.ping(run)}
	if e.policy.Environments[run.Key.Environment].FourEyesRevoke {
		g.NotUser = run.StartedBy
		lines = append(lines, fmt.Sprintf("In %s someone other than %s must confirm.", run.Key.Environment, Mention(run.StartedBy)))
	}
	run.openGate(g, s, title, lines)
}

// revoke revokes the old tokens one by one, each behind its own intent. It
// refuses to run unless the new token was verified (or handed over): the
// working credential is never lost.
func (e *Engine) revoke(ctx context.Context, run *Run) error {
	if run.Mode != ModeRevokeDisused && !run.verified() {
		return fmt.Errorf("refusing to revoke: the new token has not been verified in every consumer")
	}
	if run.Mode == ModeCleanup {
		if gone, err := e.recheckSuperseded(ctx, run); err != nil || gone {
			return err
		}
	}
	sn := e.envs[run.Key.Environment].Signon
	// The revoke is the decision of whoever confirmed it.
	actor := run.decidedBy(GateRevoke, GateRevokeDisused)
	initiator := e.email(ctx, actor)
	var lines []string
	for _, t := range run.OldTokens {
		target := strconv.FormatInt(t.ID, 10)
		in, ok := run.Intent(EffectRevoke, target)
		if ok && in.Done {
			continue
		}
		if !ok {
			run.addIntent(EffectRevoke, target, e.clock.Now())
			if err := e.save(ctx, run); err != nil {
				return err
			}
		}
		res, err := sn.Revoke(ctx, RevokeRequest{Email: run.Key.APIUser, Application: run.ApplicationName, TokenID: t.ID, Initiator: initiator, RunID: run.ID, Requester: person(actor)})
		switch {
		case errors.Is(err, ErrAlreadyRevoked):
			lines = append(lines, fmt.Sprintf("Token #%d was already revoked.", t.ID))
		case errors.Is(err, ErrUnknownToken) && t.ExpiresBefore(e.clock.Now()):
			// Signon's Sunday clean-up (oauth_access_grants:delete_expired)
			// deletes expired tokens, revoked or not: nothing is left to do.
			lines = append(lines, fmt.Sprintf("Token #%d expired %s and was removed by Signon's cleanup: nothing to revoke.", t.ID, When(t.ExpiresAt)))
		case err != nil:
			return fmt.Errorf("revoke token %d: %w", t.ID, err)
		case t.ExpiresBefore(res.Token.RevokedAt):
			run.Initiator = res.Initiator
			lines = append(lines, fmt.Sprintf("Revoked token #%d (fingerprint %s), which had expired %s.", t.ID, Code(t.Fingerprint.Short()), When(t.ExpiresAt)))
		default:
			run.Initiator = res.Initiator
			lines = append(lines, fmt.Sprintf("Revoked token #%d (fingerprint %s).", t.ID, Code(t.Fingerprint.Short())))
		}
		run.completeIntent(EffectRevoke, target, "revoked", e.clock.Now())
		e.audit(ctx, run, actor, "revoke", "ok", "token "+target)
		if err := e.save(ctx, run); err != nil {
			return err
		}
	}
	now := e.clock.Now()
	lines = append(lines, "Signon records the change as "+initiatorText(run.Initiator, actor)+".")
	run.mark(run.Step, StepOK, Count(len(run.OldTokens), "token"), now)
	title := "Revoked the old token"
	if run.Mode == ModeCleanup {
		title = "Revoked " + Count(len(run.OldTokens), "superseded token")
	}
	run.post(Post{Step: run.Step, At: now, Title: title, Lines: lines, Outcome: "ok"})
	run.moveTo(StepDone, now)
	return e.save(ctx, run)
}

// verified reports whether the new token is proven in its consumers (or,
// for an external consumer, delivered).
func (r *Run) verified() bool {
	v, _ := r.StepState(StepVerify)
	h, _ := r.StepState(StepHandoff)
	return r.NewToken != nil && (v.Status == StepOK || h.Status == StepOK)
}

// finish ends a run that has done its work, with a summary.
func (e *Engine) finish(ctx context.Context, run *Run) error {
	now := e.clock.Now()
	lines := []string{fmt.Sprintf("Took %s.", Elapsed(run.Took(now)))}
	if run.NewToken != nil {
		lines = append(lines, fmt.Sprintf("Live token: #%d, expires %s, fingerprint %s.", run.NewToken.ID, When(run.NewToken.ExpiresAt), Code(run.NewToken.Fingerprint.Short())))
	}
	lines = append(lines, whoDidWhat(run)...)
	title := "Rotation complete: " + run.Label()
	switch run.Mode {
	case ModeRevokeDisused:
		title = "Disused token revoked: " + run.Label()
	case ModeCleanup:
		title = "Clean-up complete: " + run.Label()
	}
	run.post(Post{Step: StepDone, At: now, Title: title, Lines: lines, Outcome: "ok"})
	return e.end(ctx, run, PhaseDone, "completed")
}

// end moves a run to an end state in two writes: first the closing posts
// and the outcome, which are published while the run is still active (so
// a resumed run publishes them if a crash came first), then the phase.
func (e *Engine) end(ctx context.Context, run *Run, phase Phase, reason string) error {
	if run.EndAs == "" {
		run.sayOfferBack(phase, e.clock.Now())
		run.EndAs, run.Reason, run.Step, run.Gate = phase, reason, StepDone, nil
		run.Phase = PhaseRunning
		if err := e.save(ctx, run); err != nil {
			return err
		}
	}
	if err := e.publish(ctx, run); err != nil {
		return fmt.Errorf("post the run's last messages: %w: %w", errEndPending, err)
	}
	now := e.clock.Now()
	// The trail says the run ended before the run does, so that whoever
	// waits for the end reads a complete trail.
	e.audit(ctx, run, "bot", "end", string(phase), reason)
	run.Phase, run.EndedAt = run.EndAs, now
	if err := e.save(ctx, run); err != nil {
		return err
	}
	e.obs.RunEnded(run.Key.Environment, phase, now.Sub(run.CreatedAt))
	e.runLog(run).Info("run ended", "phase", phase, "reason", reason)
	return nil
}

// errEndPending: a run has recorded its end but its last posts are not in
// the thread yet. It is not paused (there is nothing to decide); the next
// sweep publishes and ends it.
var errEndPending = errors.New("ending: waiting to post the last messages")

// pause stops the run at step s with a reason, offering the ways on.
func (e *Engine) pause(ctx context.Context, run *Run, s Step, reason string, code, events []string) error {
	now := e.clock.Now()
	run.mark(s, StepFailed, "", now)
	actions := []Action{ActionRetry}
	for _, ro := range run.Rollouts {
		if !ro.Started {
			actions = append(actions, ActionRestart)
			break
		}
	}
	if run.canRollBack() && s != StepRollback {
		actions = append(actions, ActionRollback)
	}
	actions = append(actions, ActionCancel)
	// The reason and the quoted output come from the cluster or Signon.
	reason = Untrusted(reason)
	code, events = untrustedLines(code), untrustedLines(events)
	lines := []string{reason}
	if s == StepVerify {
		lines = append(lines, e.verifyReport(ctx, run)...)
	}
	if s == StepVerify || s == StepSync {
		lines = append(lines, "The old token is still valid and untouched.")
		if d := deadline(run, now); d != "" {
			lines = append(lines, d)
		}
	}
	if run.Batch != "" && !run.Detached {
		// It stops alone and asks its own questions: its earlier steps
		// were only in the batch's status, so say what it concerns.
		run.Detached = true
		lines = append(lines, batchDetail(run, s != StepVerify)...)
	}
	for _, ev := range events {
		lines = append(lines, "Event: "+ev)
	}
	lines = append(lines, choices(run, s, actions)...)
	run.Reason = reason
	title := "Stopped at " + string(s)
	if run.Batch != "" {
		title += ": " + run.Label()
	}
	run.openGate(Gate{Kind: GateRecover, OpenedAt: now, Actions: actions, Prompt: "What next?"}, s, title, lines)
	run.Phase = PhasePaused
	run.Posts[len(run.Posts)-1].Code = code
	run.Posts[len(run.Posts)-1].Outcome = "error"
	e.obs.StepDone(run.Key.Environment, s, false, 0)
	e.audit(ctx, run, "bot", string(s), "paused", reason)
	return e.save(ctx, run)
}

// pauseOnError handles an error a step returned: permanent ones end the
// run, the rest pause it for a retry.
func (e *Engine) pauseOnError(ctx context.Context, id string, at Step, cause error) error {
	run, err := e.store.Run(ctx, id)
	if err != nil {
		return err
	}
	if run.Phase != PhaseRunning || run.Step != at || run.EndAs != "" {
		// The step recorded progress before it failed; the loop goes on
		// from there.
		return nil
	}
	if permanent(cause) {
		now := e.clock.Now()
		run.mark(run.Step, StepFailed, "", now)
		reason := Failure(ctx, e.runLog(run), cause)
		lines := append([]string{reason + "."}, tokenState(run)...)
		run.post(Post{Step: run.Step, At: now, Title: "Failed at " + string(run.Step), Lines: lines, Outcome: "error"})
		return e.end(ctx, run, PhaseFailed, reason)
	}
	return e.pause(ctx, run, run.Step, Failure(ctx, e.runLog(run), cause)+". Press Retry to try again.", nil, nil)
}

func permanent(err error) bool {
	for _, target := range []error{ErrUnknownAPIUser, ErrUnknownApplication, ErrSuspended, ErrWrongOwner, ErrBadInput, ErrUnknownToken} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// canRollBack: there is a new token this run could revoke, and no consumer
// has been verified on it. Once every consumer holds it (or its requester
// delivered it), revoking it would break what works: the way on is
// revoking the old token, or cancelling.
func (r *Run) canRollBack() bool {
	return r.Mode == ModeRotate && r.NewToken != nil && !r.NewTokenExisting && !r.verified()
}

// inFlight reports whether a change in Signon or the cluster may have
// happened without its outcome recorded. A cancel waits for the step to
// record it, so the summary can say where the tokens stand.
func inFlight(run *Run) bool {
	for _, in := range run.Intents {
		if !in.Done && in.Effect != EffectSync && in.Effect != EffectResync {
			return true
		}
	}
	return false
}

func pendingIntent(run *Run, e Effect) (Intent, bool) {
	for _, in := range run.Intents {
		if in.Effect == e && !in.Done {
			return in, true
		}
	}
	return Intent{}, false
}

// olderThan keeps the tokens that expire before nt. A token that never
// expires is never older.
func olderThan(ts []Token, nt Token) []Token {
	var out []Token
	for _, t := range ts {
		if t.ID != nt.ID && t.Expires() && (!nt.Expires() || t.ExpiresAt.Before(nt.ExpiresAt)) {
			out = append(out, t)
		}
	}
	return out
}

func external(run *Run) bool { return len(run.Consumers) == 0 }

func deployments(cs []Consumer) []string {
	var out []string
	for _, c := range cs {
		if c.Kind == "Deployment" && !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

func firstPerDeployment(cs []Consumer) []Consumer {
	var out []Consumer
	seen := map[string]bool{}
	for _, c := range cs {
		if c.Kind == "Deployment" && !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c)
		}
	}
	return out
}

func consumerLines(run *Run) []string {
	if len(run.Consumers) == 0 {
		return []string{fmt.Sprintf("No workload reads Secret %s.", Code(run.SecretName))}
	}
	lines := []string{fmt.Sprintf("Read from Secret %s by:", Code(run.SecretName))}
	for _, c := range run.Consumers {
		lines = append(lines, "• "+describeConsumer(c))
	}
	return lines
}

// lastChecked says what Signon's last_synced_at is: when the application
// last checked one of the user's tokens with Signon (or had permissions
// pushed), not when a token was last used.
func lastChecked(app string, t, now time.Time, untracked bool) string {
	switch {
	case untracked:
		return fmt.Sprintf("Signon does not record use of tokens for %s itself, so there is no sign of when this one was last used.", app)
	case t.IsZero():
		return fmt.Sprintf("Last checked with Signon by %s: never.", app)
	}
	return fmt.Sprintf("Last checked with Signon by %s: %s (%s ago). Signon records this per API user and application, not per token; clients cache the check for 5 minutes.", app, When(t), Span(now.Sub(t)))
}

func initiatorText(in Initiator, actor string) string {
	switch {
	case in.Email == "":
		return "no user"
	case in.Service && person(actor) == "":
		return "the bot's service identity " + in.Email + " (" + Mention(actor) + " is no person)"
	case in.Service:
		return "the bot's service identity " + in.Email + " (" + Mention(actor) + " has no Signon account under their Slack email that may manage API tokens: a superadmin's, neither suspended nor locked)"
	default:
		return in.Email + " (" + Mention(actor) + "'s own Signon account)"
	}
}

// email is a Slack user's email for Signon's event log, "" if unknown.
func (e *Engine) email(ctx context.Context, user string) string {
	if person(user) == "" {
		// The policy has no Signon account: the service identity acts.
		return ""
	}
	addr, err := e.dir.Email(ctx, user)
	if err != nil {
		e.log.Warn("look up email", "user", user, "err", err)
		return ""
	}
	return addr
}

// tokenState says where the tokens stand when a run ends early.
func tokenState(run *Run) []string {
	var lines []string
	if run.NewToken != nil && !run.NewTokenExisting {
		if in, ok := run.Intent(EffectRevokeNew, strconv.FormatInt(run.NewToken.ID, 10)); ok && in.Done {
			lines = append(lines, fmt.Sprintf("The new token #%d was revoked.", run.NewToken.ID))
		} else {
			lines = append(lines, fmt.Sprintf("The new token #%d exists and is valid.", run.NewToken.ID))
		}
	} else if in, ok := run.Intent(EffectIssue, ""); ok && !in.Done {
		lines = append(lines, fmt.Sprintf("A token may have been issued at %s before the run stopped: check Signon.", When(in.At)))
	}
	revoked := 0
	for _, t := range run.OldTokens {
		if in, ok := run.Intent(EffectRevoke, strconv.FormatInt(t.ID, 10)); ok && in.Done {
			revoked++
		}
	}
	if len(run.OldTokens) > 0 {
		lines = append(lines, fmt.Sprintf("%d of %s revoked.", revoked, Count(len(run.OldTokens), "old token")))
	}
	return lines
}

func whoDidWhat(run *Run) []string {
	lines := []string{"Started by " + Mention(run.StartedBy) + "."}
	for _, a := range run.Approvals {
		lines = append(lines, fmt.Sprintf("%s: %s by %s at %s.", gateName(a.Gate), actionDone[a.Action], Mention(a.User), When(a.At)))
	}
	return lines
}

// actionDone says what a click did, for the summary.
var actionDone = map[Action]string{
	ActionApprove:   "confirmed",
	ActionCancel:    "cancelled",
	ActionRetry:     "retried",
	ActionRollback:  "rolled back",
	ActionRestart:   "restart asked",
	ActionReveal:    "revealed",
	ActionDelivered: "delivery confirmed",
	ActionReopen:    "asked again",
}

// decidedBy is who last approved one of the gates, else the starter.
func (r *Run) decidedBy(kinds ...GateKind) string {
	for i := len(r.Approvals) - 1; i >= 0; i-- {
		a := r.Approvals[i]
		if a.Action == ActionApprove && slices.Contains(kinds, a.Gate) {
			return a.User
		}
	}
	return r.StartedBy
}

func gateName(k GateKind) string {
	switch k {
	case GateSync:
		return "Sync"
	case GateRevoke:
		return "Revoke"
	case GateRevokeDisused:
		return "Revoke (disused)"
	case GateHandoff:
		return "Hand-off"
	default:
		return "Recovery"
	}
}

// location is where the run's environment syncs tokens.
func (e *Engine) location(run *Run) (namespace, cronJob string) {
	return e.envs[run.Key.Environment].Cluster.Location()
}
