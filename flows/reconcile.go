package flows

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// remember keeps what the engine needs of an active run (knownRun), and
// forgets an ended one. Two goroutines saving the same run (a handler's
// publish and the driver) can call it out of order, so an older version
// never replaces a newer one; the same version is the same run, already
// kept.
func (e *Engine) remember(run *Run) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if had, ok := e.known[run.ID]; ok && had.version >= run.Version {
		return
	}
	if !run.Phase.Active() {
		delete(e.known, run.ID)
		return
	}
	e.known[run.ID] = knowRun(run)
}

// reconcileLost finds the runs this replica knew to be active that the
// store no longer has at all (Redis lost its data), and for each tells its
// thread what Signon and the cluster show now: a side effect half done
// before the loss is reported, not silently dropped.
func (e *Engine) reconcileLost(ctx context.Context, active []*Run) {
	still := map[string]bool{}
	for _, r := range active {
		still[r.ID] = true
	}
	e.mu.Lock()
	gone := map[string]*knownRun{}
	for id, k := range e.known {
		if !still[id] {
			gone[id] = k
		}
	}
	e.mu.Unlock()
	for id, last := range gone {
		_, err := e.store.Run(ctx, id)
		switch {
		case err == nil:
			// Ended meanwhile, or listed late: nothing was lost.
		case errors.Is(err, ErrRunNotFound):
			if first, err := e.store.Once(ctx, "lost:"+id, 24*time.Hour); err != nil || !first {
				continue
			}
			e.reportLost(ctx, id, last)
		default:
			continue
		}
		e.mu.Lock()
		delete(e.known, id)
		e.mu.Unlock()
	}
}

// reportLost posts what is true now for a run whose record is gone, and
// shows it failed. last is the run as the engine kept it (knownRun): its
// status message renders the checklist without the steps' times and
// notes, and its earlier posts, which the engine does not keep, stay as
// they are (a click on their buttons is answered that the run is gone).
func (e *Engine) reportLost(ctx context.Context, id string, k *knownRun) {
	last := k.ended(id, "state store lost the run")
	log := e.runLog(last)
	log.Error("run lost from the state store: reconciling from Signon and the cluster")
	now := e.clock.Now()
	lines := []string{"The state store lost this run's record (Redis restarted empty?). The bot will do nothing more here. What Signon and the cluster show now:"}
	// What the engine kept may be a sweep behind the run (another replica
	// drove it), so the report rests on what Signon and the cluster say,
	// and takes from it only when the run started and the names it
	// classified.
	env, ok := e.envs[last.Key.Environment]
	if ok {
		lines = append(lines, e.reconcileSignon(ctx, env.Signon, last)...)
		if last.APIUserName != "" && last.ApplicationName != "" {
			secret := env.Cluster.SecretName(last.APIUserName, last.ApplicationName)
			if st, err := env.Cluster.Secret(ctx, secret); err != nil {
				lines = append(lines, Failure(ctx, log, fmt.Errorf("read Secret %s: %w", secret, err))+".")
			} else if st.Exists {
				lines = append(lines, fmt.Sprintf("Secret %s holds fingerprint %s.", Code(secret), Code(st.Fingerprint.Short())))
			}
		}
	}
	lines = append(lines, fmt.Sprintf("To finish, start again with `/rotate-token %s %s %s`: a token made by this run is found and used, not issued twice.", last.Key.APIUser, last.Key.Application, last.Key.Environment))
	last.post(Post{Step: last.Step, At: now, Title: "State lost: reconciled from Signon and the cluster", Lines: lines, Outcome: "error"})
	// Posts are numbered: a name none has is new to the thread's receipts
	// whatever the engine kept of the run.
	last.Posts[0].ID = "lost"
	// A batch's run posts nothing of its own: the batch's status message
	// shows it. That message's record is gone with the run's, so the
	// report is a reply of its own.
	last.Posts[0].Quiet = false
	if _, err := e.notifier.Sync(ctx, last); err != nil {
		log.Error("report lost run", "err", err)
	}
	e.obs.RunEnded(last.Key.Environment, PhaseFailed, now.Sub(last.CreatedAt))
}

// reconcileSignon lists the tokens a lost run could have touched: those
// made since it started, and the older ones still valid or revoked since
// (which include every token it meant to revoke).
func (e *Engine) reconcileSignon(ctx context.Context, sn Signon, last *Run) []string {
	ts, err := sn.Tokens(ctx, last.Key.APIUser, last.Key.Application)
	if err != nil {
		return []string{Failure(ctx, e.log, fmt.Errorf("ask Signon about the tokens: %w", err)) + "."}
	}
	since := last.CreatedAt.Add(-time.Minute)
	var lines []string
	for _, t := range ts.Tokens {
		switch {
		case !t.CreatedAt.Before(since):
			lines = append(lines, "Made during the run: "+describeToken(t)+".")
		case !t.Revoked() || !t.RevokedAt.Before(since):
			lines = append(lines, "Old: "+describeToken(t)+".")
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "Signon shows no token made during the run, and no change to the old ones.")
	}
	return lines
}
