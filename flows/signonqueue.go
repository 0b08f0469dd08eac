package flows

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// DefaultSignonConcurrency is how many Signon consoles (each a `rails
// runner` in the signon pod, up to 90 seconds) the bot runs at once in one
// environment unless configured otherwise.
const DefaultSignonConcurrency = 2

// queuedSignon runs at most a few calls at once to one environment's
// Signon and queues the rest in arrival order (semaphore.Weighted serves
// waiters first come, first served), so that a flood of alerts or
// commands neither overloads the signon pods nor keeps a click waiting
// behind calls that arrived after it.
type queuedSignon struct {
	next Signon
	env  string
	sem  *semaphore.Weighted
	obs  Observer
	// waiting counts the calls in the queue.
	waiting atomic.Int64
}

func newQueuedSignon(next Signon, env string, n int, obs Observer) *queuedSignon {
	if n < 1 {
		n = DefaultSignonConcurrency
	}
	return &queuedSignon{next: next, env: env, sem: semaphore.NewWeighted(int64(n)), obs: obs}
}

// turn waits for a free console. The wait is a metric, not a decision,
// so it is measured on the wall clock.
func (q *queuedSignon) turn(ctx context.Context) (release func(), err error) {
	start := time.Now()
	q.waiting.Add(1)
	err = q.sem.Acquire(ctx, 1)
	q.waiting.Add(-1)
	if err != nil {
		return nil, fmt.Errorf("%w: waiting for a free Signon console in %s: %w", ErrTimeout, q.env, err)
	}
	q.obs.SignonWait(q.env, time.Since(start))
	return func() { q.sem.Release(1) }, nil
}

func queued[T any](ctx context.Context, q *queuedSignon, call func() (T, error)) (T, error) {
	release, err := q.turn(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	defer release()
	v, err := call()
	if err != nil {
		err = &signonError{err: err}
	}
	return v, err
}

func (q *queuedSignon) FindAPIUser(ctx context.Context, email string) (APIUser, error) {
	return queued(ctx, q, func() (APIUser, error) { return q.next.FindAPIUser(ctx, email) })
}

func (q *queuedSignon) Tokens(ctx context.Context, email, application string) (TokenSet, error) {
	return queued(ctx, q, func() (TokenSet, error) { return q.next.Tokens(ctx, email, application) })
}

func (q *queuedSignon) Expiring(ctx context.Context, within time.Duration) ([]ExpiringToken, error) {
	return queued(ctx, q, func() ([]ExpiringToken, error) { return q.next.Expiring(ctx, within) })
}

func (q *queuedSignon) Issue(ctx context.Context, req IssueRequest) (Issued, error) {
	return queued(ctx, q, func() (Issued, error) { return q.next.Issue(ctx, req) })
}

func (q *queuedSignon) Revoke(ctx context.Context, req RevokeRequest) (Revoked, error) {
	return queued(ctx, q, func() (Revoked, error) { return q.next.Revoke(ctx, req) })
}

func (q *queuedSignon) Reveal(ctx context.Context, req RevealRequest) (Revealed, error) {
	return queued(ctx, q, func() (Revealed, error) { return q.next.Reveal(ctx, req) })
}

var _ Signon = (*queuedSignon)(nil)
