package state

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// Claim takes the lease to drive a run for ttl, or renews it if owner
// holds it already. It reports false if another owner holds it. An owner
// of the form name#incarnation also takes at once a lease held by another
// incarnation of the same name: a restarted process taking its runs back
// (the engine holds the name, see TakeName, so that one incarnation at a
// time uses it).
func (s *Store) Claim(ctx context.Context, runID, owner string, ttl time.Duration) (bool, error) {
	what := "claim run " + runID
	if err := validID("run", runID); err != nil {
		return false, fmt.Errorf("claim run: %w", err)
	}
	if owner == "" || ttl < time.Millisecond {
		return false, fmt.Errorf("%s: %w: need an owner and a ttl of 1ms or more (got %v)", what, flows.ErrBadInput, ttl)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	sameName := ""
	if name, _, ok := strings.Cut(owner, "#"); ok && name != "" {
		sameName = name + "#"
	}
	n, err := claimScript.Run(ctx, s.rdb, []string{s.k.lease(runID)}, owner, ttl.Milliseconds(), sameName).Int()
	if err != nil {
		return false, fail(what, s.k.lease(runID), err)
	}
	return n == 1, nil
}

// Release gives the lease up if owner holds it, and does nothing if not.
func (s *Store) Release(ctx context.Context, runID, owner string) error {
	what := "release run " + runID
	if err := validID("run", runID); err != nil {
		return fmt.Errorf("release run: %w", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := releaseScript.Run(ctx, s.rdb, []string{s.k.lease(runID)}, owner).Err(); err != nil {
		return fail(what, s.k.lease(runID), err)
	}
	return nil
}
