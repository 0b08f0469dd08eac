package flows

import "context"

// Head is what a sweep reads of an active run: enough to tell whether the
// run needs work (its phase, its gate, whether its thread is behind it),
// and what the engine keeps of a run it knows only from a sweep (its key,
// names, thread and receipts, its sync Job). A drive, a gate's expiry and
// a reminder load the whole run before they act, so a sweep of thousands
// of parked runs need not read their checklists, posts, tokens, consumers
// and intents: a run parked at its sync gate has a head of about 1 kB, a
// record of about 3.6 kB, and the head decodes in a third of the time.
//
// Its Run has only the head's fields set (see Run.Head): it is never
// saved.
type Head struct {
	Run
	// Unpublished: a post or the status message has no receipt yet.
	Unpublished bool `json:"unpublished,omitempty"`
}

// Head is the run's head, as a store keeps it beside the run's record.
// It shares the run's gate, sync Job and receipts, so it is for
// encoding at once, not for keeping while the run changes.
func (r *Run) Head() *Head {
	h := &Head{Unpublished: unpublished(r)}
	h.Schema, h.ID, h.Version, h.Key, h.Mode = r.Schema, r.ID, r.Version, r.Key, r.Mode
	h.APIUserName, h.ApplicationName, h.SecretName = r.APIUserName, r.ApplicationName, r.SecretName
	h.Thread, h.Origin, h.StartedBy, h.Batch, h.CreatedAt = r.Thread, r.Origin, r.StartedBy, r.Batch, r.CreatedAt
	h.Phase, h.Step, h.Gate, h.Reason, h.EndAs = r.Phase, r.Step, r.Gate, r.Reason, r.EndAs
	h.SyncJob, h.Receipts = r.SyncJob, r.Receipts
	return h
}

// unpublished: a post or the status message never made it to Slack.
func unpublished(r *Run) bool {
	if _, ok := r.Receipts[StatusPostID]; !ok {
		return true
	}
	for _, p := range r.Posts {
		if _, ok := r.Receipts[p.ID]; !ok {
			return true
		}
	}
	return false
}

// HeadStore is a Store that keeps each active run's head beside its
// record, so that a sweep reads the heads instead of the records.
type HeadStore interface {
	// ActiveHeads lists the heads of every active run, oldest first.
	// Records that do not decode are returned as a *CorruptError joined
	// to the result, as ActiveRuns returns them.
	ActiveHeads(ctx context.Context) ([]*Head, error)
}

// wholeEvery is how often, in sweeps, a sweep reads the runs whole even
// from a store that keeps heads. A bot from before heads (beside this one
// during a rollout, or back for a while after a rollback) writes runs and
// leaves their heads as they were, and a head left behind could hide a
// run that needs a drive; every sixth sweep (a minute, at the default
// SweepEvery) bounds how long. The start-up sweep reads heads.
const wholeEvery = 6

// activeHeads lists the active runs' heads, from the heads the store
// keeps if it keeps them, else, and every wholeEvery sweeps, from the
// whole runs (whose Head then holds the whole run).
func (e *Engine) activeHeads(ctx context.Context) ([]*Head, error) {
	if hs, ok := e.store.(HeadStore); ok && e.sweeps.Add(1)%wholeEvery != 0 {
		return hs.ActiveHeads(ctx)
	}
	runs, err := e.store.ActiveRuns(ctx)
	heads := make([]*Head, len(runs))
	for i, r := range runs {
		heads[i] = &Head{Run: *r, Unpublished: unpublished(r)}
	}
	return heads, err
}
