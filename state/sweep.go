package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
)

// The daily sweep (package daily) keeps two keys per environment: a lease,
// so that one replica sweeps at a time, and the last sweep's record, whose
// day says which day is done.

var dayPattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

// ErrSwept is FinishSweep's answer when the day, or a later one, is done
// already.
var ErrSwept = errors.New("the day was swept already")

// ClaimSweep takes the environment's sweep lease for ttl, or renews it if
// owner holds it. It reports false if another replica holds it.
func (s *Store) ClaimSweep(ctx context.Context, env, owner string, ttl time.Duration) (bool, error) {
	what := "claim the sweep of " + env
	if env == "" || owner == "" || ttl < time.Millisecond {
		return false, fmt.Errorf("%s: %w: need an environment, an owner and a ttl of 1ms or more", what, flows.ErrBadInput)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	key := s.k.sweepLease(env)
	n, err := claimScript.Run(ctx, s.rdb, []string{key}, owner, ttl.Milliseconds(), "").Int()
	if err != nil {
		return false, fail(what, key, err)
	}
	return n == 1, nil
}

// ReleaseSweep gives the lease up if owner holds it.
func (s *Store) ReleaseSweep(ctx context.Context, env, owner string) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	key := s.k.sweepLease(env)
	if err := releaseScript.Run(ctx, s.rdb, []string{key}, owner).Err(); err != nil {
		return fail("release the sweep of "+env, key, err)
	}
	return nil
}

// LastSweep returns the record of the environment's last sweep as
// FinishSweep stored it, or nil if there was none.
func (s *Store) LastSweep(ctx context.Context, env string) ([]byte, error) {
	what, key := "load the last sweep of "+env, s.k.sweep(env)
	ctx, cancel := s.op(ctx)
	defer cancel()
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fail(what, key, err)
	}
	return raw, nil
}

// FinishSweep records the sweep of day (YYYY-MM-DD) as the environment's
// last, if owner still holds the lease and no sweep of that day or a later
// one is recorded. record is JSON with a "day" field equal to day. A lost
// lease is flows.ErrConflict; a day already done is ErrSwept.
func (s *Store) FinishSweep(ctx context.Context, env, owner, day string, record []byte) error {
	what := "record the sweep of " + env + " for " + day
	var head struct {
		Day string `json:"day"`
	}
	if !dayPattern.MatchString(day) || json.Unmarshal(record, &head) != nil || head.Day != day {
		return fmt.Errorf("%s: %w: a day is YYYY-MM-DD, and the record JSON naming it", what, flows.ErrBadInput)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	status, args, err := result(finishSweepScript.Run(ctx, s.rdb, []string{s.k.sweepLease(env), s.k.sweep(env)}, owner, day, record))
	switch {
	case err != nil:
		return fail(what, s.k.sweep(env), err)
	case status == "ok":
		return nil
	case status == "lost":
		return fmt.Errorf("%s: %w: another replica holds the sweep's lease", what, flows.ErrConflict)
	case status == "done" && len(args) == 1:
		return fmt.Errorf("%s: %w (%s)", what, ErrSwept, args[0])
	case status == "corrupt" && len(args) == 1:
		return fmt.Errorf("%s: %w", what, &flows.CorruptError{Key: args[0], Err: errors.New("not a sweep record, or a key of the wrong type; left as it is")})
	}
	return fmt.Errorf("%s: unexpected answer %q %q", what, status, args)
}
