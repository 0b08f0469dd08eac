package slack

import "github.com/alphagov/signon-token-bot/integrations/prom"

// Metrics are the Slack client's and the Socket Mode runner's Prometheus
// metrics.
type Metrics struct {
	calls     *prom.CounterVec
	envelopes *prom.CounterVec
	ackTime   *prom.Histogram
	connected *prom.Gauge
	// connections counts the Socket Mode connection's changes.
	connections *prom.CounterVec
}

// NewMetrics makes the metrics and registers them with reg, if not nil.
func NewMetrics(reg *prom.Registry) *Metrics {
	ackTime := prom.NewHistogramVec(prom.HistogramOpts{
		Name:    "signon_token_bot_slack_ack_seconds",
		Help:    "Time from an envelope reaching the runner to its ack being queued for the WebSocket.",
		Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 3},
	}, nil)
	connected := prom.NewGaugeVec(prom.GaugeOpts{
		Name: "signon_token_bot_slack_connected",
		Help: "1 while a Socket Mode connection is open.",
	}, nil)
	m := &Metrics{
		calls: prom.NewCounterVec(prom.CounterOpts{
			Name: "signon_token_bot_slack_api_calls_total",
			Help: "Slack Web API requests by method and outcome (ok, error, rate_limited, server_error, network_error, canceled). Each retry counts, and so does each apps.connections.open of Socket Mode.",
		}, []string{"method", "outcome"}),
		envelopes: prom.NewCounterVec(prom.CounterOpts{
			Name: "signon_token_bot_slack_envelopes_total",
			Help: "Socket Mode envelopes by type and outcome (handled, answered_in_ack, panicked, shed, malformed, ack_failed).",
		}, []string{"type", "outcome"}),
		ackTime:   ackTime.WithLabelValues(),
		connected: connected.WithLabelValues(),
		connections: prom.NewCounterVec(prom.CounterOpts{
			Name: "signon_token_bot_slack_connection_events_total",
			Help: "Socket Mode connection events: connecting (an attempt begins), connected, failed (apps.connections.open or the WebSocket failed), disconnected.",
		}, []string{"event"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.envelopes, ackTime, connected, m.connections)
	}
	return m
}
