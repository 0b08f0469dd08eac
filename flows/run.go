package flows

import (
	"time"
)

// Schema is the version of the Run and Offer records. A stored record of
// another schema is reported, never silently rewritten.
const Schema = 1

// Step is one step of the runbook.
type Step string

// The steps, in the order the runbook takes them. A run's plan is a subset.
const (
	StepClassify      Step = "classify"
	StepInspect       Step = "inspect"
	StepRevokeDisused Step = "revoke-disused"
	StepIssue         Step = "issue"
	StepHandoff       Step = "handoff"
	StepSync          Step = "sync"
	StepVerify        Step = "verify"
	StepRevoke        Step = "revoke"
	StepRollback      Step = "rollback"
	StepDone          Step = "done"
)

// Phase is where a run stands as a whole.
type Phase string

const (
	// PhaseRunning: a replica is working on the current step, or should be.
	PhaseRunning Phase = "running"
	// PhaseWaiting: stopped at a gate until an authorised click.
	PhaseWaiting Phase = "waiting"
	// PhasePaused: stopped on an error; the gate offers the ways on.
	PhasePaused Phase = "paused"
	// The end states.
	PhaseDone       Phase = "done"
	PhaseFailed     Phase = "failed"
	PhaseCancelled  Phase = "cancelled"
	PhaseRolledBack Phase = "rolled-back"
)

// Active reports whether the run has not ended. An active run holds its
// Key's lock.
func (p Phase) Active() bool {
	return p == PhaseRunning || p == PhaseWaiting || p == PhasePaused
}

// Mode is what a run was started to do.
type Mode string

const (
	// ModeRotate issues a new token, moves consumers to it and revokes the
	// old one.
	ModeRotate Mode = "rotate"
	// ModeRevokeDisused revokes a token nobody uses, as the runbook allows.
	ModeRevokeDisused Mode = "revoke-disused"
	// ModeCleanup revokes the tokens a renewal left behind, once every
	// consumer is proven to hold the pair's synced token. It issues
	// nothing and runs no sync.
	ModeCleanup Mode = "clean-up"
)

// StepStatus is the state of one step in a run's checklist.
type StepStatus string

const (
	StepPending StepStatus = "pending"
	StepRunning StepStatus = "running"
	StepWaiting StepStatus = "waiting"
	StepOK      StepStatus = "done"
	StepSkipped StepStatus = "skipped"
	StepFailed  StepStatus = "failed"
	// StepCancelled: the run was cancelled while at this step.
	StepCancelled StepStatus = "cancelled"
)

// StepState is one line of the status checklist.
type StepState struct {
	Step      Step       `json:"step"`
	Status    StepStatus `json:"status"`
	StartedAt time.Time  `json:"started_at,omitzero"`
	EndedAt   time.Time  `json:"ended_at,omitzero"`
	// Note is a short plain-text remark shown beside the step.
	Note string `json:"note,omitempty"`
	// Waited is the time the step stood at a gate for a click (waits.go).
	Waited time.Duration `json:"waited,omitempty"`
}

// Thread is a Slack conversation by its coordinates. The flows treat it as
// an opaque address.
type Thread struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// Origin says how a run began.
type Origin struct {
	// Kind is "alert", "command", "digest" (its Rotate all) or "sweep"
	// (the autopilot).
	Kind    string `json:"kind"`
	OfferID string `json:"offer_id,omitempty"`
	// Alert is the alert message the offer answered, if any.
	Alert Thread `json:"alert,omitzero"`
}

// Effect names a side effect that needs an intent record.
type Effect string

const (
	EffectIssue         Effect = "issue"
	EffectSync          Effect = "sync"
	EffectRevoke        Effect = "revoke"
	EffectRevokeDisused Effect = "revoke-disused"
	EffectRevokeNew     Effect = "revoke-new"
	EffectResync        Effect = "resync"
	EffectRestart       Effect = "restart"
)

// Intent is written before a side effect and completed after it, so a run
// resumed after a crash knows whether the effect may already have happened.
type Intent struct {
	Effect Effect    `json:"effect"`
	At     time.Time `json:"at"`
	// Target narrows the effect (a token id, a Deployment).
	Target string    `json:"target,omitempty"`
	Done   bool      `json:"done"`
	DoneAt time.Time `json:"done_at,omitzero"`
	Result string    `json:"result,omitempty"`
}

// Post is one message of a run's thread as the flow wants it said; the
// Slack layer renders it. Lines are plain text in which `backticks` mark
// code; renderers escape everything else.
type Post struct {
	ID    string    `json:"id"`
	Step  Step      `json:"step,omitempty"`
	At    time.Time `json:"at"`
	Title string    `json:"title"`
	Lines []string  `json:"lines,omitempty"`
	// Code is shown verbatim in a code block (a log tail).
	Code []string `json:"code,omitempty"`
	// Gate is set when the post asks for the run's gate with this id; it
	// shows buttons while that gate is open.
	Gate string `json:"gate,omitempty"`
	// Outcome colours the post: "ok", "warning", "error" or "".
	Outcome string `json:"outcome,omitempty"`
	// Ping is the mentions of the people the post asks (Policy.Ping):
	// the renderer puts them in the notification text too.
	Ping string `json:"ping,omitempty"`
	// Quiet: the run is in a batch, whose status message shows this
	// step instead of a reply of its own.
	Quiet bool `json:"quiet,omitempty"`
}

// Receipt records that a post (or the status message, ID "status") is in
// the thread: where, and a digest of what was rendered, so that it is
// edited only when it would change.
type Receipt struct {
	TS     string `json:"ts"`
	Digest string `json:"digest"`
}

// StatusPostID is the receipt key of a run's status message.
const StatusPostID = "status"

// Approval records a gate passed.
type Approval struct {
	Gate   GateKind  `json:"gate"`
	GateID string    `json:"gate_id"`
	Action Action    `json:"action"`
	User   string    `json:"user"`
	At     time.Time `json:"at"`
}

// Run is one rotation (or disused-token revocation). It never holds a
// token's plaintext.
type Run struct {
	Schema  int    `json:"schema"`
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Key     Key    `json:"key"`
	Mode    Mode   `json:"mode"`

	APIUserName     string `json:"api_user_name,omitempty"`
	ApplicationName string `json:"application_name,omitempty"`
	SecretName      string `json:"secret_name,omitempty"`

	Thread    Thread `json:"thread"`
	Origin    Origin `json:"origin"`
	StartedBy string `json:"started_by"`
	// Batch is the batch the run belongs to, if any; Detached is set once
	// the run stopped on an error and asks its own questions.
	Batch     string    `json:"batch,omitempty"`
	Detached  bool      `json:"detached,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Waited is the time the run stood at gates for a click (waits.go).
	Waited time.Duration `json:"waited,omitempty"`

	Phase Phase       `json:"phase"`
	Step  Step        `json:"step"`
	Steps []StepState `json:"steps"`
	Gate  *Gate       `json:"gate,omitempty"`
	// Reason says why the run is paused or how it ended.
	Reason string `json:"reason,omitempty"`
	// CancelBy is set when someone cancelled; the run stops once any step
	// in flight has recorded its outcome.
	CancelBy string `json:"cancel_by,omitempty"`
	// EndAs is the end state a run is entering: its last posts go to the
	// thread before its phase changes, so a crash cannot lose them.
	EndAs Phase `json:"end_as,omitempty"`
	// Driver is the replica whose drive last saved the run while it was
	// running; it is cleared when the run stops running. A replica that
	// claims a running run another replica drove took it over (see
	// takeover.go).
	Driver string `json:"driver,omitempty"`

	// What inspect found.
	Tokens       []Token   `json:"tokens,omitempty"`
	LastSyncedAt time.Time `json:"last_synced_at,omitzero"`
	// Unsynced: kubernetes:sync_token_secrets skips the pair (a suspended
	// user, a retired application), so no workload can hold its token.
	Unsynced  bool       `json:"unsynced,omitempty"`
	Consumers []Consumer `json:"consumers,omitempty"`

	// OldTokens are the unrevoked tokens the run will revoke once the new
	// one is verified (or, in ModeRevokeDisused, the disused one).
	OldTokens []Token `json:"old_tokens,omitempty"`
	NewToken  *Token  `json:"new_token,omitempty"`
	// NewTokenExisting is true when the new token was there already
	// (Signon's auto-rotation made it) and the run issued none.
	NewTokenExisting bool      `json:"new_token_existing,omitempty"`
	Initiator        Initiator `json:"initiator,omitzero"`
	// Reveals counts the times the hand-off showed the new token.
	Reveals int `json:"reveals,omitempty"`

	SyncJob  *SyncJob    `json:"sync_job,omitempty"`
	Sync     *SyncResult `json:"sync,omitempty"`
	Secret   SecretState `json:"secret,omitzero"`
	Rollouts []Rollout   `json:"rollouts,omitempty"`
	Checks   []PodCheck  `json:"checks,omitempty"`
	// Holders are the Deployments whose pods verify saw holding the new
	// token: a rollback breaks them until they hold the old one again.
	Holders []string    `json:"holders,omitempty"`
	Live    []LiveCheck `json:"live,omitempty"`

	Intents   []Intent           `json:"intents,omitempty"`
	Approvals []Approval         `json:"approvals,omitempty"`
	Posts     []Post             `json:"posts,omitempty"`
	Receipts  map[string]Receipt `json:"receipts,omitempty"`
}

// Outcome is the phase to show: the end state a run is entering, else
// its phase.
func (r *Run) Outcome() Phase {
	if r.EndAs != "" {
		return r.EndAs
	}
	return r.Phase
}

// Intent returns the intent for an effect and target, if recorded.
func (r *Run) Intent(e Effect, target string) (Intent, bool) {
	for _, in := range r.Intents {
		if in.Effect == e && in.Target == target {
			return in, true
		}
	}
	return Intent{}, false
}
