package state

import (
	"context"
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// perRunAuditCap bounds one run's trail, so that a flood of refused clicks
// cannot grow it without end. A run makes a few dozen entries.
const perRunAuditCap = 10_000

// Audit appends e to its run's stream and to the global stream, in one
// script. A run's trail has the run's lifetime; the global stream is
// capped at AuditMaxLen and expires after the retention if unused.
func (s *Store) Audit(ctx context.Context, e flows.AuditEntry) error {
	if err := validID("run", e.RunID); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	what := "audit run " + e.RunID
	if e.At.IsZero() || e.Action == "" {
		return fmt.Errorf("%s: %w: an entry needs a time and an action", what, flows.ErrBadInput)
	}
	args := []any{s.opt.Retention.Milliseconds(), s.opt.AuditMaxLen, perRunAuditCap,
		"run", e.RunID,
		"at", e.At.UTC().Format(time.RFC3339Nano),
		"actor", e.Actor,
		"action", e.Action,
		"outcome", e.Outcome,
		"detail", e.Detail,
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	status, rest, err := result(auditScript.Run(ctx, s.rdb,
		[]string{s.k.run(e.RunID), s.k.runAudit(e.RunID), s.k.audit()}, args...))
	switch {
	case err != nil:
		return fail(what, s.k.runAudit(e.RunID), err)
	case status == "ok":
		return nil
	case status == "corrupt" && len(rest) == 1:
		return corrupt(what, rest[0])
	}
	return fmt.Errorf("%s: unexpected answer %q %q", what, status, rest)
}

// AuditTrail reads a run's trail, oldest first. A run without one has an
// empty trail.
func (s *Store) AuditTrail(ctx context.Context, runID string) ([]flows.AuditEntry, error) {
	if err := validID("run", runID); err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	what, key := "audit trail of run "+runID, s.k.runAudit(runID)
	ctx, cancel := s.op(ctx)
	defer cancel()
	msgs, err := s.rdb.XRange(ctx, key, "-", "+").Result()
	if err != nil {
		return nil, fail(what, key, err)
	}
	return entries(what, key, runID, msgs)
}
