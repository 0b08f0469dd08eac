package prom_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alphagov/signon-token-bot/integrations/prom"
)

// scrapeRegistry is a registry shaped like the bot's: the runtime and
// process families, and a few labelled counters and histograms.
func scrapeRegistry() *prom.Registry {
	reg := prom.NewRegistry()
	calls := prom.NewCounterVec(prom.CounterOpts{Name: "calls_total", Help: "Calls."}, []string{"method", "outcome"})
	wait := prom.NewHistogramVec(prom.HistogramOpts{Name: "wait_seconds", Help: "Waits.", Buckets: []float64{.001, .01, .1, 1, 10}}, []string{"env"})
	reg.MustRegister(prom.NewGoCollector(), prom.NewProcessCollector(), calls, wait)
	for _, m := range []string{"chat.postMessage", "chat.update", "views.open", "conversations.replies"} {
		calls.WithLabelValues(m, "ok").Inc()
		calls.WithLabelValues(m, "error").Inc()
	}
	for _, e := range []string{"production", "staging", "integration"} {
		wait.WithLabelValues(e).Observe(0.5)
	}
	return reg
}

// discard is a ResponseWriter that keeps nothing, so that a scrape's
// allocations are the registry's own.
type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
func (d discard) reset()                    { clear(d.h) }
func newDiscard() discard                   { return discard{h: http.Header{}} }

var _ http.ResponseWriter = discard{}

// A scrape of the bot's /metrics. make bench scrapes it 50 times a
// second to pace the ack benchmark, so what it allocates is garbage the
// ack path's collections pay for.
func BenchmarkScrape(b *testing.B) {
	reg := scrapeRegistry()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	w := newDiscard()
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		reg.ServeHTTP(w, req)
	}
}
