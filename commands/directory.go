package commands

import (
	"context"
	"sync"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// CachedDirectory remembers emails and user group members for a while:
// every gate click asks who is in the approvers' groups, and Slack allows
// usergroups.users.list only about 20 times a minute. Failures are not
// remembered.
type CachedDirectory struct {
	Directory flows.Directory
	// TTL is how long an answer is reused: 2 minutes when zero, short
	// enough that a person removed from a group soon loses its rights.
	TTL   time.Duration
	Clock flows.Clock

	mu     sync.Mutex
	emails map[string]cached[string]
	groups map[string]cached[[]string]
}

type cached[T any] struct {
	v  T
	at time.Time
}

// Email is the user's email, as the Directory last said.
func (d *CachedDirectory) Email(ctx context.Context, user string) (string, error) {
	return lookup(d, &d.emails, user, func() (string, error) { return d.Directory.Email(ctx, user) })
}

// GroupMembers lists a user group's members, as the Directory last said.
func (d *CachedDirectory) GroupMembers(ctx context.Context, group string) ([]string, error) {
	return lookup(d, &d.groups, group, func() ([]string, error) { return d.Directory.GroupMembers(ctx, group) })
}

func lookup[T any](d *CachedDirectory, m *map[string]cached[T], key string, ask func() (T, error)) (T, error) {
	ttl := d.TTL
	if ttl <= 0 {
		ttl = 2 * time.Minute
	}
	clock := d.Clock
	if clock == nil {
		clock = flows.SystemClock{}
	}
	now := clock.Now()
	d.mu.Lock()
	if c, ok := (*m)[key]; ok && now.Sub(c.at) < ttl {
		d.mu.Unlock()
		return c.v, nil
	}
	d.mu.Unlock()
	v, err := ask()
	if err != nil {
		var zero T
		return zero, err
	}
	d.mu.Lock()
	if *m == nil {
		*m = map[string]cached[T]{}
	}
	(*m)[key] = cached[T]{v: v, at: now}
	d.mu.Unlock()
	return v, nil
}

var _ flows.Directory = (*CachedDirectory)(nil)
