package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/flows"
)

// alertGroups keeps, in Redis, the offers that answered each alert group,
// as a list under one key per (channel, environment) that lives as long
// as the offers do.
type alertGroups struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

func (g alertGroups) key(channel, env string) string {
	return g.prefix + ":alert-group:" + channel + ":" + env
}

// Remember adds an offer to its alert group.
func (g alertGroups) Remember(ctx context.Context, channel, env, offerID string) error {
	k := g.key(channel, env)
	_, err := g.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, k, offerID)
		p.PExpire(ctx, k, g.ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("remember offer %s of %s: state store %w: %w", offerID, k, flows.ErrUnavailable, err)
	}
	return nil
}

// Take returns an alert group's offers and forgets them.
func (g alertGroups) Take(ctx context.Context, channel, env string) ([]string, error) {
	k := g.key(channel, env)
	var ids *redis.StringSliceCmd
	_, err := g.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		ids = p.LRange(ctx, k, 0, -1)
		p.Del(ctx, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("offers of %s: state store %w: %w", k, flows.ErrUnavailable, err)
	}
	return ids.Val(), nil
}

var _ commands.AlertGroups = alertGroups{}
