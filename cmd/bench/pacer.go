package main

import (
	"context"
	"math"
	"sync/atomic"
	"time"
)

// The pacer keeps about pacerSetpoint envelopes waiting for the bot's
// handlers, and never more than pacerWindow: below the runner's capacity
// (8 workers and a backlog of 256), so that the bot takes every envelope
// rather than leaving some for Slack to redeliver.
const (
	pacerSetpoint = 64
	pacerWindow   = 200
)

// pacer sends envelopes evenly spaced, at the rate the bot handles them:
// it raises the rate while few envelopes wait for the bot and lowers it
// while many do. Even spacing keeps the ack latency free of bursts of the
// benchmark's own making.
type pacer struct {
	handled atomic.Int64
	rate    atomic.Uint64 // envelopes a second, as float64 bits
	sent    atomic.Int64
	next    time.Time
	// fixed, when not 0, is the rate, whatever the bot's backlog: the
	// latency of a bot below its capacity rather than at it.
	fixed float64
}

// newPacer paces at fixed envelopes a second, or as fast as the bot
// takes them if fixed is 0.
func newPacer(fixed float64) *pacer {
	p := &pacer{fixed: fixed}
	p.restart()
	return p
}

// restart sets the rate back to where it starts: observing an idle bot
// raises it.
func (p *pacer) restart() {
	if p.fixed > 0 {
		p.rate.Store(math.Float64bits(p.fixed))
		return
	}
	p.rate.Store(math.Float64bits(500))
}

// observe takes the bot's count of envelopes done and adjusts the rate.
func (p *pacer) observe(handled int64) {
	p.handled.Store(handled)
	if p.fixed > 0 {
		return
	}
	rate := math.Float64frombits(p.rate.Load())
	if p.sent.Load()-handled < pacerSetpoint {
		rate *= 1.1
	} else {
		rate *= 0.9
	}
	p.rate.Store(math.Float64bits(min(max(rate, 50), 100_000)))
}

// wait returns when the next envelope may go, or with the scraper's
// error.
func (p *pacer) wait(ctx context.Context, scraped <-chan error) error {
	now := time.Now()
	if p.next.IsZero() {
		p.next = now
	}
	for now.Before(p.next) || p.sent.Load()-p.handled.Load() >= pacerWindow {
		d := max(p.next.Sub(now), 200*time.Microsecond)
		select {
		case err := <-scraped:
			if err == nil {
				err = context.Canceled
			}
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		now = time.Now()
	}
	p.sent.Add(1)
	// Behind schedule, catch up by a millisecond at most: no bursts.
	if floor := now.Add(-time.Millisecond); p.next.Before(floor) {
		p.next = floor
	}
	p.next = p.next.Add(time.Duration(float64(time.Second) / math.Float64frombits(p.rate.Load())))
	return nil
}
