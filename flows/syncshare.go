package flows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Sync Jobs are shared. A Job writes the newest token of every API user,
// so one that started after a run's change serves that run too: runs at
// the sync step together use one Job, and a run that finds a Job running
// from before its change waits for it to end and then shares the next
// one with every other run that waited.

// maxMissedJobs bounds how many shared Jobs a run tries that finished
// without its token (one that started in the same second as its change)
// before it makes its own.
const maxMissedJobs = 3

// syncJobFor returns the Job the run relies on for a change made at
// after. While a Job that started earlier runs it waits for it to end,
// saying so in the run's status, then asks again: at most one sync runs
// at a time, and the runs that waited share the next one.
func (e *Engine) syncJobFor(ctx context.Context, run *Run, id string, after time.Time) (SyncJob, error) {
	env := e.policy.Environments[run.Key.Environment]
	cl := e.envs[run.Key.Environment].Cluster
	for {
		job, err := e.startSyncLocked(ctx, run, id, after)
		if err != nil || !job.Earlier {
			return job, err
		}
		note := "waiting for Job " + job.Name + ", which started before this run's change, to end"
		if st, _ := run.StepState(run.Step); st.Note != note {
			run.mark(run.Step, StepRunning, note, e.clock.Now())
			if err := e.save(ctx, run); err != nil {
				return SyncJob{}, err
			}
			_ = e.publish(ctx, run)
		}
		wctx, cancel := context.WithTimeout(ctx, env.SyncTimeout)
		_, err = cl.WaitSync(wctx, job.Name, run.SecretName, nil)
		cancel()
		if err != nil && !errors.Is(err, ErrNotFound) {
			return SyncJob{}, fmt.Errorf("wait for sync Job %s, which started before this run's change, to end: %w", job.Name, err)
		}
	}
}

// startSyncLocked asks the cluster for the run's Job holding the
// environment's sync lock, so that two replicas (or two runs on one) that
// find no Job make one between them, not one each. The lock lasts the
// lease's time and is renewed while the call goes on; a replica that dies
// holding it, or whose drive is cancelled as stuck, lets it lapse.
func (e *Engine) startSyncLocked(ctx context.Context, run *Run, id string, after time.Time) (SyncJob, error) {
	env := run.Key.Environment
	local, _ := e.syncLocks.LoadOrStore(env, make(chan struct{}, 1))
	select {
	case local.(chan struct{}) <- struct{}{}:
		defer func() { <-local.(chan struct{}) }()
	case <-ctx.Done():
		return SyncJob{}, fmt.Errorf("take the sync lock of %s: %w", env, ctx.Err())
	}
	lock, holder := "sync-lock."+env, e.owner+"."+run.ID
	wait := 20 * time.Millisecond
	for {
		ok, err := e.store.Claim(ctx, lock, holder, e.leaseTTL)
		if err != nil {
			return SyncJob{}, fmt.Errorf("take the sync lock of %s: %w", env, err)
		}
		if ok {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return SyncJob{}, fmt.Errorf("take the sync lock of %s: %w", env, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
	held, unhold := context.WithCancel(ctx)
	go every(held, e.leaseTTL/3, func() bool {
		if ok, err := e.store.Claim(held, lock, holder, e.leaseTTL); err == nil && !ok {
			e.runLog(run).Warn("lost the sync lock while deciding on a Job")
		}
		return false
	})
	defer func() {
		unhold()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := e.store.Release(rctx, lock, holder); err != nil {
			e.runLog(run).Warn("release the sync lock", "err", err)
		}
	}()
	job, err := e.envs[env].Cluster.StartSync(ctx, id, after)
	if err != nil {
		return job, fmt.Errorf("start the sync job: %w", err)
	}
	return job, nil
}

// syncedWith lists the active runs this replica knows of, the run itself
// included, that rely on the same Job in the same environment.
func (e *Engine) syncedWith(run *Run, job string) []string {
	ids := []string{run.ID}
	e.mu.Lock()
	for id, k := range e.known {
		if id != run.ID && k.sharesJob(run.Key.Environment, job) {
			ids = append(ids, id)
		}
	}
	e.mu.Unlock()
	slices.Sort(ids)
	return ids
}

// issuedAt is when the run's new token came to be: a Job that started
// after it reads it from Signon.
func issuedAt(run *Run) time.Time {
	if run.NewToken != nil && !run.NewToken.CreatedAt.IsZero() {
		return run.NewToken.CreatedAt
	}
	if in, ok := run.Intent(EffectIssue, ""); ok && in.Done {
		return in.DoneAt
	}
	return run.CreatedAt
}
