package flows

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// StaleError answers a click on a gate that is no longer open: answered
// already, replaced, or the run ended. The Slack layer says so privately.
type StaleError struct {
	Reason string
}

func (e *StaleError) Error() string { return e.Reason }

// ActRequest is a click on a run's gate, or a cancel from /rotate-token.
type ActRequest struct {
	RunID string
	// GateID must be the open gate's id; empty only for ActionCancel.
	GateID string
	Action Action
	Actor  string
	// Handle is passed to the Revealer for ActionReveal.
	Handle any
}

// Act applies a click. It checks that the gate is still open and the user
// may pass it, then records the decision with compare-and-set, so that of
// two simultaneous clicks (on any replicas) exactly one takes effect.
func (e *Engine) Act(ctx context.Context, req ActRequest) (*Run, error) {
	for range 5 {
		run, err := e.store.Run(ctx, req.RunID)
		if err != nil {
			return nil, err
		}
		if err := e.checkAct(ctx, run, req); err != nil {
			if errors.As(err, new(*DeniedError)) {
				e.audit(ctx, run, req.Actor, string(req.Action), "denied", err.Error())
			}
			return run, err
		}
		if req.Action == ActionReveal {
			return run, e.reveal(ctx, run, req)
		}
		before := *run
		if err := e.apply(ctx, run, req); err != nil {
			return run, err
		}
		if err := e.save(ctx, run); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return run, err
		}
		if before.Gate != nil {
			e.obs.GatePassed(run.Key.Environment, before.Gate.Kind, e.clock.Now().Sub(before.Gate.OpenedAt))
		}
		e.audit(ctx, run, req.Actor, string(req.Action), "ok", gateKind(before.Gate))
		e.runLog(run).Info("gate", "action", req.Action, "by", req.Actor)
		if err := e.publish(ctx, run); err != nil {
			e.runLog(run).Warn("update thread", "err", err)
		}
		e.kick(run.ID)
		return run, nil
	}
	return nil, fmt.Errorf("act on run %s: %w", req.RunID, ErrConflict)
}

// Check says whether a click would be accepted now, and changes nothing
// but the audit trail: the Slack layer asks before it opens the window a
// reveal shows the token in, so that nobody who may not see it gets one.
func (e *Engine) Check(ctx context.Context, req ActRequest) error {
	run, err := e.store.Run(ctx, req.RunID)
	if err != nil {
		return err
	}
	err = e.checkAct(ctx, run, req)
	if errors.As(err, new(*DeniedError)) {
		e.audit(ctx, run, req.Actor, string(req.Action), "denied", err.Error())
	}
	return err
}

// checkAct decides whether the click may take effect; it changes nothing.
func (e *Engine) checkAct(ctx context.Context, run *Run, req ActRequest) error {
	if run.Ended() || run.EndAs != "" {
		return &StaleError{Reason: fmt.Sprintf("This run has ended (%s).", run.Outcome())}
	}
	g := run.Gate
	if req.Action == ActionCancel && req.GateID == "" {
		if run.CancelBy != "" {
			return &StaleError{Reason: "This run is being cancelled already."}
		}
	} else {
		if g == nil || g.ID != req.GateID {
			return &StaleError{Reason: "This question has been answered already or replaced by a newer one; see the latest message in the thread."}
		}
		if g.Batch != "" {
			// Only the batch's own confirmation passes it.
			return &StaleError{Reason: "This token is in a batch: answer the batch's question in its thread."}
		}
		if !g.Accepts(req.Action) {
			if g.Expired {
				return &StaleError{Reason: "This confirmation expired. Press \"Ask again\" to reopen it."}
			}
			return fmt.Errorf("%w: %q is not a choice here", ErrBadInput, req.Action)
		}
	}
	return e.checkRole(ctx, run, req)
}

// checkRole decides whether the clicker may take the action now. It asks
// at every click, requester-reserved gates included: someone removed from
// a role since the button was drawn loses it at once (within the group
// cache's lifetime).
func (e *Engine) checkRole(ctx context.Context, run *Run, req ActRequest) error {
	env := run.Key.Environment
	g := run.Gate
	if g != nil && g.OnlyUser != "" && req.GateID != "" && (req.Action == ActionReveal || req.Action == ActionDelivered) {
		if req.Actor != g.OnlyUser {
			return &DeniedError{User: req.Actor, What: string(req.Action), Reason: "only " + Mention(g.OnlyUser) + ", who asked for this rotation, may do this"}
		}
		// The requester sees and hands over the token as a starter.
		ok, err := e.auth.allowed(ctx, env, req.Actor, roleStart)
		if err != nil {
			return fmt.Errorf("check who may start runs in %s: %w", env, err)
		}
		if !ok {
			return &DeniedError{User: req.Actor, What: string(req.Action), Reason: "you are no longer among the configured starters for " + env}
		}
		return nil
	}
	ok, err := e.auth.allowed(ctx, env, req.Actor, roleApprove)
	if err != nil {
		return fmt.Errorf("check who may approve in %s: %w", env, err)
	}
	if !ok && req.Action == ActionCancel && req.Actor == run.StartedBy {
		// The starter may cancel their own run while they are still a
		// starter.
		if ok, err = e.auth.allowed(ctx, env, req.Actor, roleStart); err != nil {
			return fmt.Errorf("check who may start runs in %s: %w", env, err)
		}
	}
	if !ok {
		return &DeniedError{User: req.Actor, What: string(req.Action), Reason: "you are not among the configured approvers for " + env}
	}
	// The policy's own approval is no second person, but it is allowed
	// only under full, which production takes only with its
	// acknowledgement (Policy.Validate).
	if _, policy := PolicyEnvironment(req.Actor); g != nil && req.Action == ActionApprove && g.NotUser != "" && g.NotUser == req.Actor && !policy {
		return &DeniedError{User: req.Actor, What: "approve", Reason: "this needs a second person: someone other than " + Mention(g.NotUser) + ", who started the run"}
	}
	// A rollback revokes a token, so it takes the same second person as a
	// revoke.
	if req.Action == ActionRollback && e.policy.Environments[env].FourEyesRevoke && req.Actor == run.StartedBy {
		return &DeniedError{User: req.Actor, What: "roll back", Reason: "rolling back revokes a token, so in " + env + " it needs a second person: someone other than " + Mention(run.StartedBy) + ", who started the run"}
	}
	return nil
}

// apply changes the run as the click decides.
func (e *Engine) apply(ctx context.Context, run *Run, req ActRequest) error {
	now := e.clock.Now()
	g := run.Gate
	if g != nil && req.GateID != "" {
		run.Approvals = append(run.Approvals, Approval{Gate: g.Kind, GateID: g.ID, Action: req.Action, User: req.Actor, At: now})
	}
	run.noteWait(g, now)
	switch req.Action {
	case ActionCancel:
		// The driver ends the run, after any step in flight.
		run.CancelBy = req.Actor
		if run.Phase != PhaseRunning {
			if st, _ := run.StepState(run.Step); st.Status == StepWaiting {
				run.mark(run.Step, StepPending, "", now)
			}
			run.Phase, run.Gate = PhaseRunning, nil
		}
	case ActionApprove:
		switch g.Kind {
		case GateSync:
			run.moveTo(StepSync, now)
		case GateRevoke:
			run.moveTo(StepRevoke, now)
		case GateRevokeDisused:
			run.moveTo(StepRevokeDisused, now)
		default:
			return fmt.Errorf("%w: nothing to approve", ErrBadInput)
		}
	case ActionDelivered:
		run.mark(StepHandoff, StepOK, "delivered", now)
		run.post(Post{Step: StepHandoff, At: now, Title: "Token delivered", Outcome: "ok",
			Lines: []string{Mention(req.Actor) + " confirmed that the new token reached its consumer. There is no consumer in the cluster to verify."}})
		e.openRevokeGate(run, StepRevoke, now)
	case ActionRetry:
		run.Reason = ""
		run.moveTo(run.Step, now)
	case ActionRestart:
		for _, ro := range run.Rollouts {
			if !ro.Started {
				run.addIntent(EffectRestart, ro.Deployment, now)
			}
		}
		run.Reason = ""
		run.moveTo(StepVerify, now)
	case ActionRollback:
		if !run.canRollBack() {
			return fmt.Errorf("%w: this run made no token to roll back", ErrBadInput)
		}
		run.mark(run.Step, StepSkipped, "rolled back", now)
		run.moveTo(StepRollback, now)
	case ActionReopen:
		ng := *g
		ng.Expired = false
		ng.OpenedAt, ng.RemindedAt = now, time.Time{}
		ttl := e.policy.GateTTL
		if g.Kind == GateHandoff {
			ttl = e.policy.HandoffTTL
		}
		ng.ExpiresAt = now.Add(ttl)
		run.openGate(ng, run.Step, g.Prompt, []string{Mention(req.Actor) + " asked again."})
	}
	return nil
}

// cancel ends a run someone cancelled, saying where the tokens stand.
func (e *Engine) cancel(ctx context.Context, run *Run, actor string) error {
	now := e.clock.Now()
	if st, ok := run.StepState(run.Step); ok && st.Status != StepOK && st.Status != StepSkipped {
		run.mark(run.Step, StepCancelled, "cancelled", now)
	}
	lines := append([]string{"Cancelled by " + Mention(actor) + "."}, e.standing(ctx, run)...)
	run.post(Post{Step: run.Step, At: now, Title: "Cancelled", Lines: lines, Outcome: "cancelled"})
	return e.end(ctx, run, PhaseCancelled, "cancelled by "+Mention(actor))
}

// expireGate marks a waiting run's gate expired; the run keeps waiting.
func (e *Engine) expireGate(ctx context.Context, id string) {
	// The driver may still be saving the receipts of the gate's own post
	// when the sweep comes; a lost race is retried, or the gate would stay
	// open until the next sweep.
	for range 5 {
		run, err := e.store.Run(ctx, id)
		if err != nil || run.Gate == nil || run.Gate.Expired || run.Phase != PhaseWaiting {
			return
		}
		run.Gate.Expired = true
		if err := e.save(ctx, run); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			e.runLog(run).Warn("expire gate", "err", err)
			return
		}
		e.audit(ctx, run, "bot", "expire", "ok", gateKind(run.Gate))
		_ = e.publish(ctx, run)
		return
	}
}

// rollback revokes the run's new token and, if the sync ran, syncs again
// so that the Secret goes back to the old token.
func (e *Engine) rollback(ctx context.Context, run *Run) error {
	now := e.clock.Now()
	target := strconv.FormatInt(run.NewToken.ID, 10)
	if in, ok := run.Intent(EffectRevokeNew, target); !ok || !in.Done {
		if !ok {
			run.addIntent(EffectRevokeNew, target, now)
			if err := e.save(ctx, run); err != nil {
				return err
			}
		}
		_, err := e.envs[run.Key.Environment].Signon.Revoke(ctx, RevokeRequest{Email: run.Key.APIUser, Application: run.ApplicationName, TokenID: run.NewToken.ID, Initiator: e.email(ctx, run.rolledBackBy()), RunID: run.ID, Requester: run.rolledBackBy()})
		if err != nil && !errors.Is(err, ErrAlreadyRevoked) {
			return fmt.Errorf("revoke the new token %d: %w", run.NewToken.ID, err)
		}
		run.completeIntent(EffectRevokeNew, target, "revoked", e.clock.Now())
		e.audit(ctx, run, run.rolledBackBy(), "revoke-new", "ok", "token "+target)
		if err := e.save(ctx, run); err != nil {
			return err
		}
	}
	lines := []string{fmt.Sprintf("Revoked the new token #%d.", run.NewToken.ID)}
	if run.attempts(EffectSync) > 0 {
		res, err := e.resync(ctx, run)
		if err != nil {
			return err
		}
		lines = append(lines, res...)
	}
	back, notBack, err := e.checkRolledBack(ctx, run)
	if err != nil {
		return err
	}
	lines = append(lines, back...)
	if notBack != "" {
		// The new token stays revoked; Retry looks again once the
		// consumer is mended, Cancel leaves it as it is.
		run.post(Post{Step: StepRollback, At: e.clock.Now(), Title: "Rolled back the token, not yet every consumer", Lines: lines})
		return e.pause(ctx, run, StepRollback, notBack, nil, nil)
	}
	lines = append(lines, e.standing(ctx, run)...)
	lines = append(lines, "The old token stays valid until it expires: rotate again once the problem is fixed.")
	now = e.clock.Now()
	run.mark(StepRollback, StepOK, "", now)
	run.post(Post{Step: StepRollback, At: now, Title: "Rolled back", Lines: lines, Outcome: "rolled back"})
	return e.end(ctx, run, PhaseRolledBack, "rolled back")
}

// resync waits for a sync Job that started after the new token was
// revoked, so that the Secret goes back to the old token, and checks it.
func (e *Engine) resync(ctx context.Context, run *Run) ([]string, error) {
	cl := e.envs[run.Key.Environment].Cluster
	in, ok := run.Intent(EffectResync, "")
	if !ok {
		in = run.addIntent(EffectResync, "", e.clock.Now())
		if err := e.save(ctx, run); err != nil {
			return nil, err
		}
	}
	old := unrevoked(run.OldTokens)
	for after, missed := in.At, 0; !in.Done; missed++ {
		job, err := e.syncJobFor(ctx, run, run.ID+".rollback", after)
		if err != nil {
			return nil, fmt.Errorf("find a sync job to restore the old token: %w", err)
		}
		wctx, cancel := context.WithTimeout(ctx, e.policy.Environments[run.Key.Environment].SyncTimeout)
		res, err := cl.WaitSync(wctx, job.Name, run.SecretName, func(SyncProgress) {})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("wait for sync Job %s: %w", job.Name, err)
		}
		if !res.Succeeded {
			return nil, fmt.Errorf("the sync Job %s that restores the old token failed", job.Name)
		}
		if job.Adopted && missed < maxMissedJobs && len(old) > 0 {
			// A shared Job of the same second may have read Signon
			// before the revoke.
			if st, err := cl.Secret(ctx, run.SecretName); err == nil && st.Fingerprint != old[0].Fingerprint {
				after = job.StartedAt.Truncate(time.Second).Add(time.Second)
				continue
			}
		}
		run.completeIntent(EffectResync, "", job.Name, e.clock.Now())
		if err := e.save(ctx, run); err != nil {
			return nil, err
		}
		in.Done = true
	}
	st, err := cl.Secret(ctx, run.SecretName)
	if err != nil {
		return nil, fmt.Errorf("read Secret %s: %w", run.SecretName, err)
	}
	run.Secret = st
	if len(old) > 0 && st.Fingerprint == old[0].Fingerprint {
		return []string{fmt.Sprintf("Synced again: Secret %s holds the old token (fingerprint %s) once more; Reloader rolls its consumers back.", Code(run.SecretName), Code(st.Fingerprint.Short()))}, nil
	}
	return []string{fmt.Sprintf("Synced again, but Secret %s holds fingerprint %s: check it.", Code(run.SecretName), Code(st.Fingerprint.Short()))}, nil
}

// rolledBackBy is who asked for the rollback.
func (r *Run) rolledBackBy() string {
	for i := len(r.Approvals) - 1; i >= 0; i-- {
		if r.Approvals[i].Action == ActionRollback {
			return r.Approvals[i].User
		}
	}
	return r.StartedBy
}

func gateKind(g *Gate) string {
	if g == nil {
		return ""
	}
	return string(g.Kind)
}
