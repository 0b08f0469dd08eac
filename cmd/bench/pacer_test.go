package main

import (
	"math"
	"testing"
)

// An adaptive pacer follows the bot's backlog; a fixed one keeps its rate
// whatever the backlog, so that -ack-rate measures a bot below its
// capacity.
func TestPacerRates(t *testing.T) {
	rate := func(p *pacer) float64 { return math.Float64frombits(p.rate.Load()) }

	adaptive := newPacer(0)
	adaptive.observe(0) // nothing sent, nothing waiting: faster
	if got := rate(adaptive); got <= 500 {
		t.Errorf("an idle bot left the adaptive rate at %v", got)
	}
	adaptive.sent.Store(1000)
	before := rate(adaptive)
	adaptive.observe(0) // 1,000 waiting: slower
	if got := rate(adaptive); got >= before {
		t.Errorf("a backlog of 1,000 left the adaptive rate at %v (was %v)", got, before)
	}

	fixed := newPacer(1500)
	fixed.observe(0)
	fixed.sent.Store(1000)
	fixed.observe(0)
	fixed.restart()
	if got := rate(fixed); got != 1500 {
		t.Errorf("the fixed rate moved to %v", got)
	}
	if fixed.handled.Load() != 0 {
		t.Error("the fixed pacer stopped counting what the bot handled, which its window needs")
	}
}
