package flowstest

import (
	"sync"
	"time"
)

// Clock is a settable clock. Its zero value reads 26 Nov 2026 09:00 UTC.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Start is the zero Clock's time.
var Start = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = Start
	}
	return c.now
}

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = Start
	}
	c.now = c.now.Add(d)
}
