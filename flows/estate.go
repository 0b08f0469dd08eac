package flows

import "time"

// Estate is Signon's report on every API user's tokens that need a look,
// read in one call by the daily sweep (package daily).
type Estate struct {
	// Now is Signon's clock when it made the report.
	Now time.Time `json:"now"`
	// Within is the window the report was asked for.
	Within time.Duration `json:"within"`
	// Pairs lists, soonest expiry first, every (API user, application)
	// whose synced token expires within the window, or that has
	// superseded tokens.
	Pairs []EstatePair `json:"pairs"`
}

// EstatePair is one (API user, application) of the estate report.
type EstatePair struct {
	User        APIUser     `json:"user"`
	Application Application `json:"application"`
	// Internal is Signon's own rule for whose tokens its 01:00 task
	// (access_tokens:renew_expiring_internal_tokens) renews: an email at
	// alphagov.co.uk or publishing.service.gov.uk.
	Internal bool `json:"internal"`
	// Synced is false when the sync job skips the pair (a suspended user,
	// a retired application).
	Synced bool `json:"synced"`
	// Token is the sync job's choice: the unrevoked token that expires
	// last. Its ID is 0 when the pair has no unrevoked token.
	Token Token `json:"token"`
	// Superseded are the pair's other unrevoked tokens, not yet expired,
	// made before Token: left over after a renewal, waiting to be revoked.
	Superseded []Token `json:"superseded,omitempty"`
	// RenewalBlocker is a revoked token of the pair that expires after
	// Token: Signon's renewal counts revoked tokens as newer, so such a
	// token stops it. 0 if none.
	RenewalBlocker int64 `json:"renewal_blocker,omitempty"`
	// LastSyncedAt is the pair's last check-in with Signon.
	LastSyncedAt time.Time `json:"last_synced_at,omitzero"`
}

// RenewalDue reports whether Signon's 01:00 renewal should have renewed
// the pair by at: an internal user whose synced token expires within a
// month of at (Rails' 1.month.from_now) with nothing newer.
func (p EstatePair) RenewalDue(at time.Time) bool {
	return p.Internal && p.Token.ID != 0 && p.Token.ExpiresBefore(at.AddDate(0, 1, 0))
}
