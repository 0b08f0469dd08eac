package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
)

// TakeName makes incarnation the holder of an owner name for ttl, whoever
// held it, and returns the incarnation that held it before ("" if none or
// it lapsed). The name is a pod's: a restarted container takes it from its
// dead predecessor, and a live process that finds its name taken (see
// RenewName) stops driving runs.
func (s *Store) TakeName(ctx context.Context, name, incarnation string, ttl time.Duration) (string, error) {
	if err := validName(name, incarnation, ttl); err != nil {
		return "", fmt.Errorf("take owner name: %w", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	prev, err := s.rdb.SetArgs(ctx, s.k.name(name), incarnation, redis.SetArgs{TTL: ttl, Get: true}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", fail("take owner name "+name, s.k.name(name), err)
	}
	return prev, nil
}

// RenewName keeps the name for incarnation for another ttl, taking it
// back if it lapsed. It reports false if another incarnation holds it.
func (s *Store) RenewName(ctx context.Context, name, incarnation string, ttl time.Duration) (bool, error) {
	if err := validName(name, incarnation, ttl); err != nil {
		return false, fmt.Errorf("renew owner name: %w", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	n, err := renewNameScript.Run(ctx, s.rdb, []string{s.k.name(name)}, incarnation, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fail("renew owner name "+name, s.k.name(name), err)
	}
	return n == 1, nil
}

// ReleaseName gives the name up if incarnation holds it, so that the next
// incarnation need not wait to be sure this one stopped.
func (s *Store) ReleaseName(ctx context.Context, name, incarnation string) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := releaseScript.Run(ctx, s.rdb, []string{s.k.name(name)}, incarnation).Err(); err != nil {
		return fail("release owner name "+name, s.k.name(name), err)
	}
	return nil
}

func validName(name, incarnation string, ttl time.Duration) error {
	if name == "" || incarnation == "" || len(name) > 253 || ttl < time.Millisecond {
		return fmt.Errorf("%w: need a name of 1 to 253 bytes, an incarnation and a ttl of 1ms or more", flows.ErrBadInput)
	}
	return nil
}
