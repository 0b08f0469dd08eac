package flows

import "time"

// Observer receives the events an operator charts. The Slack-free engine
// reports; the binary turns them into Prometheus metrics.
type Observer interface {
	RunEnded(env string, phase Phase, d time.Duration)
	StepDone(env string, step Step, ok bool, d time.Duration)
	GatePassed(env string, gate GateKind, waited time.Duration)
	// Active is the number of active runs in an environment and phase,
	// counted at every sweep: a run paused or waiting for hours is one
	// an operator should look at.
	Active(env string, phase Phase, n int)
	// SignonWait is how long a Signon call waited for a free console.
	SignonWait(env string, waited time.Duration)
}

type nopObserver struct{}

func (nopObserver) RunEnded(string, Phase, time.Duration)      {}
func (nopObserver) StepDone(string, Step, bool, time.Duration) {}
func (nopObserver) GatePassed(string, GateKind, time.Duration) {}
func (nopObserver) Active(string, Phase, int)                  {}
func (nopObserver) SignonWait(string, time.Duration)           {}
