package state

import (
	"context"
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// MinOnceTTL is the shortest time Once remembers a key. Slack redelivers
// an unacked envelope about 1 and 5 minutes after the first try.
const MinOnceTTL = 10 * time.Minute

// Once reports true the first time it sees key within ttl (raised to
// MinOnceTTL if shorter), with one SET NX.
func (s *Store) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if key == "" || len(key) > 512 {
		return false, fmt.Errorf("de-duplicate: %w: a key is 1 to 512 bytes (got %d)", flows.ErrBadInput, len(key))
	}
	ttl = max(ttl, MinOnceTTL)
	ctx, cancel := s.op(ctx)
	defer cancel()
	first, err := s.rdb.SetNX(ctx, s.k.once(key), "1", ttl).Result()
	if err != nil {
		return false, fail("de-duplicate", s.k.once(key), err)
	}
	return first, nil
}
