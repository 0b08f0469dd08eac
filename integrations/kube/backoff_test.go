package kube

import (
	"testing"
	"time"
)

// Each delay is at least half and at most the doubled step before it,
// never more than max, and reset starts again.
func TestBackoffDoublesUpToItsBound(t *testing.T) {
	b := backoff{initial: 800 * time.Millisecond, max: 30 * time.Second}
	step := 800 * time.Millisecond
	for i := range 12 {
		d := b.delay()
		if d < step/2 || d > step {
			t.Errorf("delay %d = %v, want between %v and %v", i, d, step/2, step)
		}
		step = min(2*step, 30*time.Second)
	}
	b.reset()
	if d := b.delay(); d > 800*time.Millisecond {
		t.Errorf("after reset: %v, want at most 800ms", d)
	}
}
