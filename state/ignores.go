package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// An environment's snoozes (ignores with a date) live in one hash, a field
// per pair, so that the daily sweep reads them all in one call. A snooze
// past its date is left out and forgotten on the next read.

func (k keys) ignores(env string) string { return k.tagged + "ignores:" + part(env) }

func ignoreField(key flows.Key) string { return part(key.APIUser) + ":" + part(key.Application) }

// SetIgnore records a snooze of a pair until ig.Until, replacing any.
func (s *Store) SetIgnore(ctx context.Context, ig flows.Ignore) error {
	what := "snooze " + ig.Key.String()
	if err := ig.Key.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if ig.Until.IsZero() || ig.By == "" {
		return fmt.Errorf("%s: %w: a snooze needs a date and a person", what, flows.ErrBadInput)
	}
	raw, err := json.Marshal(ig)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", what, err)
	}
	key := s.k.ignores(ig.Key.Environment)
	ctx, cancel := s.op(ctx)
	defer cancel()
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, key, ignoreField(ig.Key), raw)
	// The hash outlives its longest possible snooze.
	pipe.PExpire(ctx, key, flows.MaxSnooze+48*time.Hour)
	if _, err := pipe.Exec(ctx); err != nil {
		return fail(what, key, err)
	}
	return nil
}

// ClearIgnore forgets a pair's snooze, if it has one.
func (s *Store) ClearIgnore(ctx context.Context, key flows.Key) error {
	what := "end the snooze of " + key.String()
	if err := key.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	k := s.k.ignores(key.Environment)
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := s.rdb.HDel(ctx, k, ignoreField(key)).Err(); err != nil {
		return fail(what, k, err)
	}
	return nil
}

// Ignores lists an environment's snoozes that hold at now.
func (s *Store) Ignores(ctx context.Context, env string, now time.Time) (map[flows.Key]flows.Ignore, error) {
	what, key := "list the snoozes of "+env, s.k.ignores(env)
	ctx, cancel := s.op(ctx)
	defer cancel()
	all, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fail(what, key, err)
	}
	out := map[flows.Key]flows.Ignore{}
	var stale []string
	for field, raw := range all {
		var ig flows.Ignore
		if err := json.Unmarshal([]byte(raw), &ig); err != nil || ig.Key.Environment != env || ignoreField(ig.Key) != field {
			return nil, corrupt(what, key)
		}
		if !ig.Snoozed(now) {
			stale = append(stale, field)
			continue
		}
		out[ig.Key] = ig
	}
	if len(stale) > 0 {
		if err := s.rdb.HDel(ctx, key, stale...).Err(); err != nil {
			return nil, fail(what, key, err)
		}
	}
	return out, nil
}
