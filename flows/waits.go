package flows

import "time"

// A run's durations are its own work: the time it stood at a gate until
// someone clicked is counted apart, in Waited, and left out of "Took" and
// of each step's time, so that a rotation confirmed after lunch does not
// read as a slow one.

// noteWait counts the time the gate g waited, from its opening to now,
// against the run and its current step. The click that closes a gate
// calls it; a reopened gate counts from its reopening.
func (r *Run) noteWait(g *Gate, now time.Time) {
	if g == nil || g.OpenedAt.IsZero() || !now.After(g.OpenedAt) {
		return
	}
	d := now.Sub(g.OpenedAt)
	r.Waited += d
	for i := range r.Steps {
		if r.Steps[i].Step == r.Step {
			r.Steps[i].Waited += d
			return
		}
	}
}

// Took is how long the step worked: from its start to its end, less the
// time it waited for a click. Zero until it ends.
func (s StepState) Took() time.Duration {
	if s.StartedAt.IsZero() || s.EndedAt.IsZero() {
		return 0
	}
	return max(s.EndedAt.Sub(s.StartedAt)-s.Waited, 0)
}

// Took is how long the run has worked by now: since it began, less the
// time it waited at gates.
func (r *Run) Took(now time.Time) time.Duration {
	return max(now.Sub(r.CreatedAt)-r.Waited, 0)
}
