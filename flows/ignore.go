package flows

import "time"

// MaxIgnoreReason bounds an Ignore's reason, in characters: a sentence or
// two, shown in the offer and the thread.
const MaxIgnoreReason = 300

// MaxSnooze is the furthest an Ignore can put off a token: a snooze is
// for a known plan ("the app is retired next month"), not for forgetting.
const MaxSnooze = 90 * 24 * time.Hour

// Ignore is someone's decision to leave a token alone, with why and for
// how long. A zero Until lasts until the alert resolves.
type Ignore struct {
	Key    Key       `json:"key"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Until  time.Time `json:"until,omitzero"`
	Reason string    `json:"reason"`
}

// Snoozed reports whether the ignore holds at now beyond its alert: it
// has a date, and the date is still to come.
func (ig Ignore) Snoozed(now time.Time) bool {
	return !ig.Until.IsZero() && now.Before(ig.Until)
}
