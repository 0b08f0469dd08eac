package flows

import (
	"sync"
	"time"
)

// watchdog is the deadline of the step a replica is driving. The drive
// arms it with the step's budget before the step and each save the step
// makes (progress) starts the budget again. It runs on the machine's
// clock, not the engine's Clock, because the lease it guards expires in
// Redis in real time.
type watchdog struct {
	mu       sync.Mutex
	budget   time.Duration
	deadline time.Time
}

// watchdogKey carries a drive's watchdog in its context, so that save
// can report progress.
type watchdogKey struct{}

// arm gives the next stretch of work budget, from now.
func (w *watchdog) arm(budget time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.budget, w.deadline = budget, time.Now().Add(budget)
}

// progress starts the current budget again.
func (w *watchdog) progress() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deadline = time.Now().Add(w.budget)
}

// overrun is how far past its deadline the work is, or 0.
func (w *watchdog) overrun() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return max(time.Since(w.deadline), 0)
}
