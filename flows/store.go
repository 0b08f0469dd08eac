package flows

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store keeps runs, offers, leases and the audit trail where every replica
// sees them. Every update is a compare-and-set on the record's Version.
type Store interface {
	// CreateRun stores a new run (Version becomes 1) and takes its Key's
	// active-run lock in the same transaction. If another active run holds
	// the lock it returns an *ActiveRunError naming it.
	CreateRun(ctx context.Context, run *Run) error
	// Run loads a run. ErrRunNotFound if there is none; a record that does
	// not decode is a *CorruptError.
	Run(ctx context.Context, id string) (*Run, error)
	// ActiveRun returns the active run holding key's lock, or ErrRunNotFound.
	ActiveRun(ctx context.Context, key Key) (*Run, error)
	// UpdateRun writes run if the stored Version equals run.Version, and
	// bumps run.Version. ErrConflict if another writer won. When the run's
	// phase is no longer active, its lock is released, it leaves the
	// active list, and it is kept for the retention time.
	UpdateRun(ctx context.Context, run *Run) error
	// ActiveRuns lists every active run. Records that do not decode are
	// returned as a *CorruptError joined to the result, not dropped.
	ActiveRuns(ctx context.Context) ([]*Run, error)
	// RunsInThread lists the runs whose thread is (channel, ts).
	RunsInThread(ctx context.Context, channel, ts string) ([]string, error)

	// Claim takes or renews the lease to drive a run for ttl. Only the
	// lease holder executes steps; a crashed holder's lease lapses.
	Claim(ctx context.Context, runID, owner string, ttl time.Duration) (bool, error)
	// Release gives the lease up if owner holds it.
	Release(ctx context.Context, runID, owner string) error

	// Once returns true the first time it sees key within ttl, across
	// replicas: one replica reports a lost run, not every one.
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)

	// Audit appends an entry to the run's audit trail.
	Audit(ctx context.Context, e AuditEntry) error
	// AuditTrail reads a run's trail, oldest first.
	AuditTrail(ctx context.Context, runID string) ([]AuditEntry, error)
}

// OfferStore keeps the offers the bot posts in answer to alerts.
type OfferStore interface {
	// CreateOffer stores a new offer and indexes it by its alert message.
	// If that alert already has one, it returns an *OfferExistsError.
	CreateOffer(ctx context.Context, o *Offer) error
	Offer(ctx context.Context, id string) (*Offer, error)
	// OfferForAlert finds the offer answering an alert message, or
	// ErrOfferNotFound.
	OfferForAlert(ctx context.Context, channel, ts string) (*Offer, error)
	// OfferForKey finds the newest open offer for a token's key, so a
	// repeated (daily) alert finds the existing offer.
	OfferForKey(ctx context.Context, key Key) (*Offer, error)
	// UpdateOffer is a compare-and-set on Version, like UpdateRun.
	UpdateOffer(ctx context.Context, o *Offer) error
	// UnpostedOffers lists offers created before the given time whose
	// messages never reached Slack, so that they can be posted late
	// rather than never.
	UnpostedOffers(ctx context.Context, before time.Time) ([]*Offer, error)
}

// Deduper makes a Slack envelope or a click take effect once.
type Deduper interface {
	// Once returns true the first time it sees key within ttl.
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Errors of the Store.
var (
	ErrRunNotFound   = errors.New("run not found")
	ErrOfferNotFound = errors.New("offer not found")
	// ErrConflict: another writer updated the record first. Reload and
	// decide again.
	ErrConflict = errors.New("record changed by another writer")
)

// ActiveRunError says a Key is already being rotated.
type ActiveRunError struct {
	RunID string
}

func (e *ActiveRunError) Error() string {
	return fmt.Sprintf("a run is already active for this token: %s", e.RunID)
}

// OfferExistsError says an alert was answered already.
type OfferExistsError struct {
	OfferID string
}

func (e *OfferExistsError) Error() string {
	return fmt.Sprintf("alert already has offer %s", e.OfferID)
}

// CorruptError is a stored record that does not decode: an older schema or
// damage. It is reported and left alone.
type CorruptError struct {
	Key string
	Err error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("record %s does not decode: %v", e.Key, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// AuditEntry is one line of a run's audit trail: a gate passed, a click
// refused, a side effect and its outcome.
type AuditEntry struct {
	// ID is the stream entry id, set by the store.
	ID      string    `json:"id,omitempty"`
	RunID   string    `json:"run_id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
}
