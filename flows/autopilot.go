package flows

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Autopilot is how far an environment's daily sweep goes by itself.
type Autopilot string

const (
	// AutopilotOff: the sweep only reports; people start everything.
	AutopilotOff Autopilot = "off"
	// AutopilotToGates: the sweep starts the rotations and stops at each
	// confirmation for a person.
	AutopilotToGates Autopilot = "to-gates"
	// AutopilotFull: the sweep starts the rotations and the policy passes
	// their confirmations.
	AutopilotFull Autopilot = "full"
)

// AutopilotAcknowledgement is the exact text an environment named
// production must set beside `autopilot: full`: there, full passes the
// revoke confirmation that four-eyes otherwise gives to a second person.
const AutopilotAcknowledgement = "I accept unattended revocation in production"

// ParseAutopilot reads a configured policy; "" is off.
func ParseAutopilot(s string) (Autopilot, error) {
	switch a := Autopilot(s); a {
	case "":
		return AutopilotOff, nil
	case AutopilotOff, AutopilotToGates, AutopilotFull:
		return a, nil
	}
	return "", fmt.Errorf("%q is not off, to-gates or full", s)
}

// Starts reports whether the sweep starts rotations by itself.
func (a Autopilot) Starts() bool { return a == AutopilotToGates || a == AutopilotFull }

// policyActorPrefix marks the actor of what the autopilot policy does. A
// Slack user id is upper-case letters and digits, so no click carries it.
const policyActorPrefix = "policy:"

// PolicyActor is who the autopilot policy acts as in env: the starter of
// the batches its sweep starts and the approver of the gates `full`
// passes. It is not a person: four-eyes counts it as nobody.
func PolicyActor(env string) string { return policyActorPrefix + env }

// PolicyEnvironment is the environment whose policy actor is actor, if it
// is one.
func PolicyEnvironment(actor string) (string, bool) {
	env, ok := strings.CutPrefix(actor, policyActorPrefix)
	return env, ok && env != ""
}

// AutopilotSource names the configuration that lets the policy act in env,
// as the thread and the audit name it.
func (p Policy) AutopilotSource(env string) string {
	e := p.Environments[env]
	if e.AutopilotSource != "" {
		return e.AutopilotSource
	}
	return fmt.Sprintf("environments.%s.autopilot: %s", env, e.autopilotMode())
}

func (e EnvPolicy) autopilotMode() Autopilot {
	if e.Autopilot == "" {
		return AutopilotOff
	}
	return e.Autopilot
}

// validateAutopilot refuses a policy that would act where the bot does
// not rotate, or pass production's revoke without its acknowledgement.
func validateAutopilot(name string, e EnvPolicy) error {
	mode, err := ParseAutopilot(string(e.Autopilot))
	if err != nil {
		return fmt.Errorf("policy: environment %s: autopilot %w", name, err)
	}
	if mode.Starts() && !e.Rotate {
		return fmt.Errorf("policy: environment %s: autopilot %s where the bot does not rotate", name, mode)
	}
	if mode == AutopilotFull && name == Production && !e.AutopilotAcknowledged {
		return fmt.Errorf("policy: environment %s: autopilot full passes the revoke without a second person; it needs the acknowledgement %q", name, AutopilotAcknowledgement)
	}
	return nil
}

// policyDecides reports whether the policy itself passes the batch's
// gates: full, in a batch its own sweep started.
func (e *Engine) policyDecides(b *Batch) bool {
	return b.StartedBy == PolicyActor(b.Environment) && e.policy.Environments[b.Environment].autopilotMode() == AutopilotFull
}

// passByPolicy answers the batch's open gate as the policy's decision,
// saying in its post which configuration allowed it.
func (e *Engine) passByPolicy(b *Batch) {
	g := b.Gate
	actor := PolicyActor(b.Environment)
	b.Passed = append(b.Passed, BatchApproval{Gate: g.Kind, GateID: g.ID, Action: ActionApprove, User: actor, At: g.OpenedAt, Runs: b.Covers})
	b.Gate, b.Covers = nil, nil
	for i := range b.Posts {
		if b.Posts[i].Gate == g.ID {
			b.Posts[i].Lines = append(b.Posts[i].Lines, fmt.Sprintf("Passed by the autopilot policy, not by a person: the configuration %s allows it.", Code(e.policy.AutopilotSource(b.Environment))))
		}
	}
	e.log.Info("batch gate passed by policy", "batch", b.ID, "gate", g.Kind, "source", e.policy.AutopilotSource(b.Environment))
}

// auditActor is how the audit names who decided: a person's user id, or
// the policy with the configuration that allowed it.
func (e *Engine) auditDetail(actor, detail string) string {
	if env, ok := PolicyEnvironment(actor); ok {
		return detail + "; the autopilot policy's decision (" + e.policy.AutopilotSource(env) + ")"
	}
	return detail
}

// firstPerson is who four-eyes keeps from confirming a batch's revoke:
// its starter, or where the policy started it, the person who confirmed
// its sync ("" when the policy did both: full, acknowledged in
// production).
func (b *Batch) firstPerson() string {
	if _, ok := PolicyEnvironment(b.StartedBy); !ok {
		return b.StartedBy
	}
	for _, a := range b.Passed {
		if _, policy := PolicyEnvironment(a.User); a.Gate == GateSync && a.Action == ActionApprove && !policy {
			return a.User
		}
	}
	return ""
}

// leaveToRequester ends a run the policy started for a token nothing in
// the cluster reads, before anything is issued: such a token goes to its
// consumer by hand, and only a person who asked for it may receive it.
func (e *Engine) leaveToRequester(ctx context.Context, run *Run, lines []string, now time.Time) error {
	run.mark(StepInspect, StepOK, "left for a person", now)
	run.post(Post{Step: StepInspect, At: now, Title: "Left for a person: " + run.Label(), Outcome: "cancelled",
		Lines: append(lines, "Nothing in the cluster reads this token, so its consumer gets it by hand. The autopilot policy never does that: a person rotates it (Rotate on the digest, or /rotate-token) and receives the new token. Nothing was issued.")})
	return e.end(ctx, run, PhaseCancelled, "an external consumer waits for its requester")
}

// person is the Slack user behind an actor, "" for the policy: Signon's
// event log names a requester only when a person asked.
func person(actor string) string {
	if _, ok := PolicyEnvironment(actor); ok {
		return ""
	}
	return actor
}
