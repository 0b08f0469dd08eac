package flows

import (
	"fmt"
	"time"
)

// planFor is the checklist a run starts with. Inspect rewrites it once it
// knows whether the token has consumers in the cluster.
func planFor(mode Mode) []Step {
	if mode == ModeRevokeDisused {
		return []Step{StepClassify, StepInspect, StepRevokeDisused}
	}
	if mode == ModeCleanup {
		return []Step{StepClassify, StepInspect, StepVerify, StepRevoke}
	}
	return []Step{StepClassify, StepInspect, StepIssue, StepSync, StepVerify, StepRevoke}
}

func newSteps(plan []Step) []StepState {
	out := make([]StepState, len(plan))
	for i, s := range plan {
		out[i] = StepState{Step: s, Status: StepPending}
	}
	return out
}

// replan swaps the pending part of the checklist for a new plan, keeping
// the state of the steps that are in both.
func (r *Run) replan(plan []Step) {
	old := map[Step]StepState{}
	for _, s := range r.Steps {
		old[s.Step] = s
	}
	r.Steps = r.Steps[:0]
	for _, s := range plan {
		if st, ok := old[s]; ok {
			r.Steps = append(r.Steps, st)
			continue
		}
		r.Steps = append(r.Steps, StepState{Step: s, Status: StepPending})
	}
}

// mark sets a step's status in the checklist, adding the step if the plan
// did not have it (a rollback).
func (r *Run) mark(s Step, status StepStatus, note string, now time.Time) {
	for i := range r.Steps {
		if r.Steps[i].Step != s {
			continue
		}
		st := &r.Steps[i]
		// The time a step waits for a click is not its own; noteWait
		// counts it, so a retried step's time is both of its attempts.
		if st.StartedAt.IsZero() && status != StepPending {
			st.StartedAt = now
		}
		switch status {
		case StepOK, StepSkipped, StepFailed, StepCancelled:
			st.EndedAt = now
		default:
			st.EndedAt = time.Time{}
		}
		st.Status = status
		if note != "" || status == StepRunning {
			st.Note = note
		}
		return
	}
	r.Steps = append(r.Steps, StepState{Step: s, Status: status, StartedAt: now, Note: note})
	if status == StepOK || status == StepSkipped || status == StepFailed {
		r.Steps[len(r.Steps)-1].EndedAt = now
	}
}

// StepState returns the checklist entry of a step.
func (r *Run) StepState(s Step) (StepState, bool) {
	for _, st := range r.Steps {
		if st.Step == s {
			return st, true
		}
	}
	return StepState{}, false
}

// moveTo makes s the current step and marks it running.
func (r *Run) moveTo(s Step, now time.Time) {
	r.Step = s
	r.Phase = PhaseRunning
	r.Gate = nil
	if s != StepDone {
		r.mark(s, StepRunning, "", now)
	}
}

// post adds a message to the thread.
func (r *Run) post(p Post) {
	p.ID = fmt.Sprintf("%02d-%s", len(r.Posts), p.Step)
	p.Quiet = r.batchGate() != ""
	r.Posts = append(r.Posts, p)
}

// openGate stops the run at a gate before step s and asks in the thread.
func (r *Run) openGate(g Gate, s Step, title string, lines []string) {
	g.ID = randomID(5)
	r.Phase = PhaseWaiting
	r.Step = s
	r.Gate = &g
	if g.Kind != GateRecover {
		r.mark(s, StepWaiting, "waiting for confirmation", g.OpenedAt)
	}
	r.post(Post{Step: s, At: g.OpenedAt, Title: title, Lines: lines, Gate: g.ID, Ping: g.Ping})
}

// addIntent records that a side effect is about to happen.
func (r *Run) addIntent(e Effect, target string, now time.Time) Intent {
	if in, ok := r.Intent(e, target); ok {
		return in
	}
	in := Intent{Effect: e, Target: target, At: now}
	r.Intents = append(r.Intents, in)
	return in
}

// completeIntent records that a side effect happened.
func (r *Run) completeIntent(e Effect, target, result string, now time.Time) {
	for i := range r.Intents {
		if r.Intents[i].Effect == e && r.Intents[i].Target == target {
			r.Intents[i].Done = true
			r.Intents[i].DoneAt = now
			r.Intents[i].Result = result
			return
		}
	}
}

// dropIntent forgets an unfinished intent so that a retry makes a fresh
// attempt (a new sync Job after a failed one).
func (r *Run) dropIntent(e Effect, target string) {
	out := r.Intents[:0]
	for _, in := range r.Intents {
		if in.Effect == e && in.Target == target {
			continue
		}
		out = append(out, in)
	}
	r.Intents = out
}

// Attempts counts the intents of an effect, finished or not.
func (r *Run) attempts(e Effect) int {
	n := 0
	for _, in := range r.Intents {
		if in.Effect == e {
			n++
		}
	}
	return n
}

// End reports whether the run has ended.
func (r *Run) Ended() bool { return !r.Phase.Active() }

// Label is how the run is named in messages: "user → application (env)".
func (r *Run) Label() string {
	user := r.APIUserName
	if user == "" {
		user = r.Key.APIUser
	}
	app := r.ApplicationName
	if app == "" {
		app = r.Key.Application
	}
	// Names come from Signon or a user's command: they may mention nobody.
	return fmt.Sprintf("%s → %s (%s)", defuse(user), defuse(app), r.Key.Environment)
}
