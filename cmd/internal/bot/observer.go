package bot

import (
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/prom"
)

// observer turns the engine's and the Slack surface's events into
// Prometheus metrics.
type observer struct {
	ignored *prom.CounterVec
	runs    *prom.HistogramVec
	steps   *prom.HistogramVec
	gates   *prom.HistogramVec
	active  *prom.GaugeVec
	signon  *prom.HistogramVec
}

func newObserver(reg *prom.Registry) *observer {
	o := &observer{
		runs: prom.NewHistogramVec(prom.HistogramOpts{
			Name:    "signon_token_bot_runs_seconds",
			Help:    "Runs ended, by environment and outcome (done, failed, cancelled, rolled-back), and how long each took, gates included.",
			Buckets: []float64{60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 3 * 24 * 3600},
		}, []string{"environment", "outcome"}),
		steps: prom.NewHistogramVec(prom.HistogramOpts{
			Name:    "signon_token_bot_step_seconds",
			Help:    "Runbook steps finished, by environment, step and result (ok, or paused on an error), and how long each took.",
			Buckets: []float64{.1, .5, 1, 5, 15, 30, 60, 120, 300, 600, 1200},
		}, []string{"environment", "step", "result"}),
		gates: prom.NewHistogramVec(prom.HistogramOpts{
			Name:    "signon_token_bot_gate_wait_seconds",
			Help:    "Gates passed, by environment and gate, and how long each waited for its click.",
			Buckets: []float64{10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600},
		}, []string{"environment", "gate"}),
		active: prom.NewGaugeVec(prom.GaugeOpts{
			Name: "signon_token_bot_active_runs",
			Help: "Active runs by environment and phase (running, waiting at a gate, paused on an error), as of the last sweep.",
		}, []string{"environment", "phase"}),
	}
	o.signon = prom.NewHistogramVec(prom.HistogramOpts{
		Name:    "signon_token_bot_signon_wait_seconds",
		Help:    "Signon calls by environment, and how long each waited for a free console (signonConcurrency at once, the rest in turn).",
		Buckets: []float64{.01, .1, .5, 1, 5, 15, 30, 60, 120, 300},
	}, []string{"environment"})
	o.ignored = prom.NewCounterVec(prom.CounterOpts{
		Name: "signon_token_bot_alerts_ignored_total",
		Help: "Messages in an alert channel that looked like the alert and were not answered, by reason (sender: not among alertSenders).",
	}, []string{"reason"})
	reg.MustRegister(o.runs, o.steps, o.gates, o.active, o.signon, o.ignored)
	return o
}

func (o *observer) RunEnded(env string, phase flows.Phase, d time.Duration) {
	o.runs.WithLabelValues(env, string(phase)).Observe(d.Seconds())
}

func (o *observer) StepDone(env string, step flows.Step, ok bool, d time.Duration) {
	result := "ok"
	if !ok {
		result = "paused"
	}
	o.steps.WithLabelValues(env, string(step), result).Observe(d.Seconds())
}

func (o *observer) GatePassed(env string, gate flows.GateKind, waited time.Duration) {
	o.gates.WithLabelValues(env, string(gate)).Observe(waited.Seconds())
}

func (o *observer) Active(env string, phase flows.Phase, n int) {
	o.active.WithLabelValues(env, string(phase)).Set(float64(n))
}

func (o *observer) SignonWait(env string, waited time.Duration) {
	o.signon.WithLabelValues(env).Observe(waited.Seconds())
}

func (o *observer) AlertIgnored(reason string) {
	o.ignored.WithLabelValues(reason).Inc()
}

var (
	_ flows.Observer   = (*observer)(nil)
	_ commands.Metrics = (*observer)(nil)
)
