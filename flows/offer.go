package flows

import "time"

// Offer is the bot's answer to an alert message: one item per expiring
// token, each with its buttons or its special-case explanation.
type Offer struct {
	Schema      int       `json:"schema"`
	ID          string    `json:"id"`
	Version     int64     `json:"version"`
	Alert       Thread    `json:"alert"`
	Environment string    `json:"environment"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Resolved is set when Alertmanager said the alert resolved.
	Resolved bool        `json:"resolved,omitempty"`
	Items    []OfferItem `json:"items"`
	// Messages are the ts of the offer's messages in the alert's thread
	// (more than one when the items do not fit one message).
	Messages []string `json:"messages,omitempty"`
}

// OfferItem is one expiring token in an offer.
type OfferItem struct {
	// ID is opaque and unguessable; buttons carry it.
	ID         string     `json:"id"`
	Key        Key        `json:"key"`
	Assessment Assessment `json:"assessment"`
	// RunID is the run started from this item, if any.
	RunID string `json:"run_id,omitempty"`
	// EndedRunID is the last run started from this item, once it ended by
	// Cancel or a rollback: the item takes clicks again, so that starting
	// again is one click, and still links to what happened.
	EndedRunID string `json:"ended_run_id,omitempty"`
	// IgnoredBy is who pressed Ignore.
	IgnoredBy string    `json:"ignored_by,omitempty"`
	IgnoredAt time.Time `json:"ignored_at,omitzero"`
	// IgnoredUntil ends the ignore (zero: when the alert resolves);
	// IgnoreReason says why, as the person typed it (untrusted).
	IgnoredUntil time.Time `json:"ignored_until,omitzero"`
	IgnoreReason string    `json:"ignore_reason,omitempty"`
}

// Ignore is the item's ignore, if someone ignored it.
func (it OfferItem) Ignore() (Ignore, bool) {
	if it.IgnoredBy == "" {
		return Ignore{}, false
	}
	return Ignore{Key: it.Key, By: it.IgnoredBy, At: it.IgnoredAt, Until: it.IgnoredUntil, Reason: it.IgnoreReason}, true
}

// SetIgnore records ig on the item; a zero Ignore clears it.
func (it *OfferItem) SetIgnore(ig Ignore) {
	it.IgnoredBy, it.IgnoredAt, it.IgnoredUntil, it.IgnoreReason = ig.By, ig.At, ig.Until, ig.Reason
}

// Assessment is what the bot knows of a token before anyone clicks: the
// classify and inspect steps, read-only.
type Assessment struct {
	Key             Key    `json:"key"`
	APIUserName     string `json:"api_user_name,omitempty"`
	ApplicationName string `json:"application_name,omitempty"`
	// Special is set when the bot will not rotate this token; it says why.
	Special *SpecialCase `json:"special,omitempty"`
	// Current is the newest unrevoked token; ExpiresAt is its expiry.
	Current      *Token    `json:"current,omitempty"`
	LastSyncedAt time.Time `json:"last_synced_at,omitzero"`
	// Disused is true when the app has not used the token for the
	// configured time: the runbook allows revoking it instead.
	Disused bool `json:"disused,omitempty"`
	// Renewed is true when a newer unrevoked token than the expiring one
	// exists already (Signon's auto-rotation).
	Renewed bool `json:"renewed,omitempty"`
	// Error is set when the assessment could not be made (Signon down,
	// unknown user); the offer says so instead of offering buttons.
	Error string `json:"error,omitempty"`
}

// SpecialCase is a token the runbook says to leave alone or hand over.
type SpecialCase struct {
	// Kind is "staging", "self-rotating", "other-team" or "human".
	Kind string `json:"kind"`
	// Reason is a plain-text explanation.
	Reason string `json:"reason"`
	// Link, when set, is where to read more.
	Link string `json:"link,omitempty"`
}
