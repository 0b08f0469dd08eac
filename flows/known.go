package flows

import (
	"slices"
	"time"
)

// knownRun is what the engine keeps of an active run between saves and
// sweeps: enough to find the runs that share a sync Job (syncedWith) and
// to report the run in its thread if the store loses it (reportLost),
// and no more. A copy of the whole run kept its posts, intents and
// receipts, and every string decoded for them, alive: with 1,000 runs
// parked that was 5.5 of 8.9 MB live.
type knownRun struct {
	version   int64
	key       Key
	mode      Mode
	step      Step
	checklist []stepMark
	thread    Thread
	// status is the receipt of the run's status message, which the
	// report edits.
	status    Receipt
	offerID   string
	batch     string
	detached  bool
	startedBy string
	apiUser   string // the API user's name in Signon
	app       string // the application's name in Signon
	createdAt time.Time
	syncJob   string
	// syncEarlier: the Job started before the run's change (SyncJob.Earlier).
	syncEarlier bool
	// consumers are the names of the workloads reading the run's Secret,
	// for the status message's links.
	consumers []string
}

// stepMark is one line of a run's checklist without its times and note.
type stepMark struct {
	step   Step
	status StepStatus
}

// knownSteps and knownStatuses let a kept checklist point at the
// package's constants instead of the strings decoded from the store.
var (
	knownSteps    = []Step{StepClassify, StepInspect, StepRevokeDisused, StepIssue, StepHandoff, StepSync, StepVerify, StepRevoke, StepRollback, StepDone}
	knownStatuses = []StepStatus{StepPending, StepRunning, StepWaiting, StepOK, StepSkipped, StepFailed, StepCancelled}
)

// intern returns the constant equal to s, or s itself if there is none.
func intern[T ~string](s T, known []T) T {
	if i := slices.Index(known, s); i >= 0 {
		return known[i]
	}
	return s
}

// knowRun keeps what the engine needs of run, which must be the run as
// the store holds it: of a partial decode it would keep an empty
// checklist or no status receipt, and the report would show them so.
func knowRun(run *Run) *knownRun {
	k := &knownRun{
		version:   run.Version,
		key:       run.Key,
		mode:      run.Mode,
		step:      intern(run.Step, knownSteps),
		thread:    run.Thread,
		status:    run.Receipts[StatusPostID],
		offerID:   run.Origin.OfferID,
		batch:     run.Batch,
		detached:  run.Detached,
		startedBy: run.StartedBy,
		apiUser:   run.APIUserName,
		app:       run.ApplicationName,
		createdAt: run.CreatedAt,
		checklist: make([]stepMark, len(run.Steps)),
	}
	for i, s := range run.Steps {
		k.checklist[i] = stepMark{intern(s.Step, knownSteps), intern(s.Status, knownStatuses)}
	}
	if run.SyncJob != nil {
		k.syncJob, k.syncEarlier = run.SyncJob.Name, run.SyncJob.Earlier
	}
	for _, c := range run.Consumers {
		if !slices.Contains(k.consumers, c.Name) {
			k.consumers = append(k.consumers, c.Name)
		}
	}
	return k
}

// sharesJob reports whether the run relies on the Job named job in env.
func (k *knownRun) sharesJob(env, job string) bool {
	return k.key.Environment == env && k.syncJob == job && !k.syncEarlier
}

// ended is the run as the report shows it ended: failed at the step it
// was at, with what its status message renders and no posts of its own
// (the report adds one).
func (k *knownRun) ended(id, reason string) *Run {
	run := &Run{
		Schema: Schema, ID: id, Version: k.version, Key: k.key, Mode: k.mode,
		APIUserName: k.apiUser, ApplicationName: k.app,
		Thread: k.thread, Origin: Origin{OfferID: k.offerID}, StartedBy: k.startedBy,
		Batch: k.batch, Detached: k.detached, CreatedAt: k.createdAt,
		Phase: PhaseFailed, Step: k.step, Reason: reason,
		Receipts: map[string]Receipt{},
	}
	if k.status != (Receipt{}) {
		run.Receipts[StatusPostID] = k.status
	}
	for _, m := range k.checklist {
		run.Steps = append(run.Steps, StepState{Step: m.step, Status: m.status})
	}
	if k.syncJob != "" {
		run.SyncJob = &SyncJob{Name: k.syncJob, Earlier: k.syncEarlier}
	}
	for _, c := range k.consumers {
		run.Consumers = append(run.Consumers, Consumer{Name: c})
	}
	return run
}
