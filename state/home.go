package state

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
)

// The people who opened the Home tab lately, so that any replica can
// refresh their tabs when a run changes: a sorted set of Slack user ids
// by when they last opened it.

var slackUserPattern = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// homeViewersTTL bounds how long a Home tab is kept fresh after it was
// last opened.
const homeViewersTTL = 24 * time.Hour

func (k keys) homeViewers() string { return k.tagged + "home-viewers" }

// SawHomeViewer records that user opened the Home tab at at, and forgets
// those who last did over a day before.
func (s *Store) SawHomeViewer(ctx context.Context, user string, at time.Time) error {
	what, key := "record a Home tab viewer", s.k.homeViewers()
	if !slackUserPattern.MatchString(user) {
		return fmt.Errorf("%s: %w: not a Slack user id", what, flows.ErrBadInput)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(at.UnixMilli()), Member: user})
		p.ZRemRangeByScore(ctx, key, "-inf", "("+strconv.FormatInt(at.Add(-homeViewersTTL).UnixMilli(), 10))
		p.PExpire(ctx, key, homeViewersTTL)
		return nil
	})
	if err != nil {
		return fail(what, key, err)
	}
	return nil
}

// HomeViewers are the most recent viewers since since, at most most.
func (s *Store) HomeViewers(ctx context.Context, since time.Time, most int) ([]string, error) {
	what, key := "list the Home tab's viewers", s.k.homeViewers()
	ctx, cancel := s.op(ctx)
	defer cancel()
	users, err := s.rdb.ZRevRangeByScore(ctx, key, &redis.ZRangeBy{Min: strconv.FormatInt(since.UnixMilli(), 10), Max: "+inf", Count: int64(most)}).Result()
	if err != nil {
		return nil, fail(what, key, err)
	}
	return users, nil
}
