package flows

import "time"

// GateKind is what a gate asks.
type GateKind string

const (
	// GateSync asks before the sync Job runs.
	GateSync GateKind = "sync"
	// GateRevoke asks before the old token(s) are revoked.
	GateRevoke GateKind = "revoke"
	// GateRevokeDisused asks before a disused token is revoked.
	GateRevokeDisused GateKind = "revoke-disused"
	// GateHandoff waits for the requester to take the token to a consumer
	// outside the cluster and confirm delivery.
	GateHandoff GateKind = "handoff"
	// GateRecover is where a paused run waits: retry, roll back or cancel.
	GateRecover GateKind = "recover"
)

// Action is a click on a gate.
type Action string

const (
	ActionApprove   Action = "approve"
	ActionCancel    Action = "cancel"
	ActionRetry     Action = "retry"
	ActionRollback  Action = "rollback"
	ActionRestart   Action = "restart"
	ActionReveal    Action = "reveal"
	ActionDelivered Action = "delivered"
	// ActionReopen asks again after a gate expired.
	ActionReopen Action = "reopen"
)

// Gate is a stop in a run that only an authorised click passes.
type Gate struct {
	// ID is a fresh nonce per gate; a click must carry it, so a click on
	// an old message cannot pass a newer gate.
	ID        string    `json:"id"`
	Kind      GateKind  `json:"kind"`
	OpenedAt  time.Time `json:"opened_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Expired is set once ExpiresAt passed; the run keeps waiting and only
	// ActionReopen (or Cancel) is accepted.
	Expired bool `json:"expired,omitempty"`
	// Actions are the clicks this gate accepts.
	Actions []Action `json:"actions"`
	// OnlyUser, when set, is the only user who may reveal the token or
	// confirm its delivery (the requester of a hand-off), and only while
	// they still hold the starter role. Cancel and Roll back follow the
	// usual rules.
	OnlyUser string `json:"only_user,omitempty"`
	// NotUser, when set, may not approve (four eyes: the run's starter).
	NotUser string `json:"not_user,omitempty"`
	// Batch, when set, is the batch that asks this gate for the run:
	// only the batch's answer passes it.
	Batch string `json:"batch,omitempty"`
	// Prompt is the question, in plain text.
	Prompt string `json:"prompt"`
	// Ping is the mentions of the people the gate asks (Policy.Ping); its
	// message and its reminder carry them.
	Ping string `json:"ping,omitempty"`
	// RemindedAt is when the gate's reminder was recorded (remind.go):
	// there is one reminder per opening.
	RemindedAt time.Time `json:"reminded_at,omitzero"`
}

// Accepts reports whether the gate takes the action now.
func (g *Gate) Accepts(a Action) bool {
	if g.Expired {
		return a == ActionReopen || a == ActionCancel
	}
	for _, x := range g.Actions {
		if x == a {
			return true
		}
	}
	return false
}
