package state

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
)

// AuditLimits say what the trail keeps: a finished run's trail and the
// all-runs stream live for retention after their last entry, and the
// all-runs stream holds about maxLen entries, the oldest trimmed first.
func (s *Store) AuditLimits() (retention time.Duration, maxLen int64) {
	return s.opt.Retention, s.opt.AuditMaxLen
}

// AuditSince reads the all-runs stream from since on, oldest first, at
// most limit entries.
func (s *Store) AuditSince(ctx context.Context, since time.Time, limit int64) ([]flows.AuditEntry, error) {
	what, key := "audit trail since "+since.UTC().Format(time.RFC3339), s.k.audit()
	ctx, cancel := s.op(ctx)
	defer cancel()
	// Stream ids are Redis's clock when the entry was added, a moment
	// after its time: the range finds the candidates, each entry's own
	// time decides.
	msgs, err := s.rdb.XRangeN(ctx, key, strconv.FormatInt(since.UnixMilli(), 10), "+", limit).Result()
	if err != nil {
		return nil, fail(what, key, err)
	}
	all, err := entries(what, key, "", msgs)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if !e.At.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}

// entries decodes stream messages; with runID set, each must be that run's.
func entries(what, key, runID string, msgs []redis.XMessage) ([]flows.AuditEntry, error) {
	trail := make([]flows.AuditEntry, 0, len(msgs))
	for _, m := range msgs {
		str := func(field string) string { v, _ := m.Values[field].(string); return v }
		e := flows.AuditEntry{
			ID: m.ID, RunID: str("run"), Actor: str("actor"), Action: str("action"),
			Outcome: str("outcome"), Detail: str("detail"),
		}
		at := str("at")
		var err error
		if e.At, err = time.Parse(time.RFC3339Nano, at); err != nil || e.RunID == "" || runID != "" && e.RunID != runID {
			return nil, fmt.Errorf("%s: %w", what, &flows.CorruptError{
				Key: key + " " + m.ID, Err: fmt.Errorf("not an audit entry of this run (time %q)", at)})
		}
		trail = append(trail, e)
	}
	return trail, nil
}
