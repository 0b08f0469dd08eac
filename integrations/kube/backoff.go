package kube

import (
	"context"
	"math/rand/v2"
	"time"
)

// client-go's reflector's back-off: from 0.8 s, doubling, up to 30 s,
// which keeps a failing watch to about one attempt in 30 s.
const (
	defaultBackoffInitial = 800 * time.Millisecond
	defaultBackoffMax     = 30 * time.Second
)

// backoff spaces out attempts after failures: each wait is twice the one
// before, up to max, less a random part of up to half, so that waits
// started together drift apart. reset starts again from initial.
type backoff struct {
	initial, max time.Duration
	next         time.Duration
}

// delay returns the next wait and moves on.
func (b *backoff) delay() time.Duration {
	if b.next == 0 {
		b.next = b.initial
	}
	d := b.next - rand.N(b.next/2+1)
	b.next = min(2*b.next, b.max)
	return d
}

// wait sleeps for the next delay; false if ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.delay())
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *backoff) reset() { b.next = 0 }
