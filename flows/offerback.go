package flows

import "time"

// ReopensOffer reports whether a run's end gives its offer item its
// buttons back: it came from an offer and ended by Cancel or a rollback,
// which leave the token as it was, still expiring.
func ReopensOffer(run *Run) bool {
	if run.Origin.OfferID == "" {
		return false
	}
	end := run.EndAs
	if end == "" {
		end = run.Phase
	}
	return end == PhaseCancelled || end == PhaseRolledBack
}

// sayOfferBack tells the thread that the offer takes clicks again. The
// notifier edits the offer before it posts this, so the line is true when
// it shows; both happen before the run records its end, so a resumed run
// does them again rather than not at all.
func (r *Run) sayOfferBack(phase Phase, now time.Time) {
	if r.Origin.OfferID == "" || (phase != PhaseCancelled && phase != PhaseRolledBack) {
		return
	}
	r.post(Post{Step: StepDone, At: now, Title: "Rotate is back on the alert's offer",
		Lines: []string{"Starting again is one click there, unless the alert has resolved meanwhile. A new rotation checks who may start it and that no other run holds the token, as the first did."}})
}
