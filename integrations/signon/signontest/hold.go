package signontest

import "sync"

// Hold stops one call of the double until the test releases it, so a test
// can act while a Signon call is in flight (a second click, a crash).
type Hold struct {
	arrived, released chan struct{}
	arrive, release   sync.Once
}

// NewHold returns a Hold to put in Signon.HoldNext.
func NewHold() *Hold {
	return &Hold{arrived: make(chan struct{}), released: make(chan struct{})}
}

// Arrived is closed when the held call has arrived.
func (h *Hold) Arrived() <-chan struct{} { return h.arrived }

// Release lets the held call go on. It may be called more than once.
func (h *Hold) Release() { h.release.Do(func() { close(h.released) }) }

func (h *Hold) enter() { h.arrive.Do(func() { close(h.arrived) }) }
