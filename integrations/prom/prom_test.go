package prom_test

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/prom"
	"github.com/alphagov/signon-token-bot/integrations/prom/promtest"
)

// The exposition of each kind of family, byte for byte: HELP and TYPE
// first, labels sorted by name with le last, histograms cumulative with
// a +Inf bucket, values as strconv writes them, and the escapes the
// format asks for.
func TestExpositionText(t *testing.T) {
	reg := prom.NewRegistry()
	calls := prom.NewCounterVec(prom.CounterOpts{Name: "calls_total", Help: `Calls by method and outcome, a \ in help, and a` + "\nsecond line."}, []string{"method", "outcome"})
	up := prom.NewGaugeVec(prom.GaugeOpts{Name: "up", Help: "1 while up."}, nil)
	wait := prom.NewHistogramVec(prom.HistogramOpts{Name: "wait_seconds", Help: "Waits.", Buckets: []float64{.0001, 1, 3600}}, []string{"env"})
	reg.MustRegister(calls, up, wait)

	calls.WithLabelValues("chat.update", "ok").Inc()
	calls.WithLabelValues("chat.update", "ok").Inc()
	calls.WithLabelValues(`a"b\c`+"\nd", "error").Inc()
	up.WithLabelValues().Set(1)
	prod := wait.WithLabelValues("production")
	for _, v := range []float64{.0001, .5, 2, 7200} {
		prod.Observe(v)
	}
	wait.WithLabelValues("integration")

	want := `# HELP calls_total Calls by method and outcome, a \\ in help, and a\nsecond line.
# TYPE calls_total counter
calls_total{method="a\"b\\c\nd",outcome="error"} 1
calls_total{method="chat.update",outcome="ok"} 2
# HELP up 1 while up.
# TYPE up gauge
up 1
# HELP wait_seconds Waits.
# TYPE wait_seconds histogram
wait_seconds_bucket{env="integration",le="0.0001"} 0
wait_seconds_bucket{env="integration",le="1"} 0
wait_seconds_bucket{env="integration",le="3600"} 0
wait_seconds_bucket{env="integration",le="+Inf"} 0
wait_seconds_sum{env="integration"} 0
wait_seconds_count{env="integration"} 0
wait_seconds_bucket{env="production",le="0.0001"} 1
wait_seconds_bucket{env="production",le="1"} 2
wait_seconds_bucket{env="production",le="3600"} 3
wait_seconds_bucket{env="production",le="+Inf"} 4
wait_seconds_sum{env="production"} 7202.5001
wait_seconds_count{env="production"} 4
`
	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if got := rec.Body.String(); got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
	e, err := promtest.Parse(rec.Body.String())
	if err != nil {
		t.Fatal(err)
	}
	if got := e["calls_total"].Samples[0].Labels["method"]; got != `a"b\c`+"\nd" {
		t.Errorf("label value read back as %q", got)
	}
}

// A label value that is not UTF-8 would fail the whole scrape in
// Prometheus: its bad bytes are replaced, and the rest is kept.
func TestLabelValueNotUTF8(t *testing.T) {
	reg := prom.NewRegistry()
	c := prom.NewCounterVec(prom.CounterOpts{Name: "envelopes_total", Help: "Envelopes."}, []string{"type"})
	reg.MustRegister(c)
	c.WithLabelValues("events\xff_api").Inc()
	e := promtest.Scrape(t, reg)
	if n := e.Sum("envelopes_total", map[string]string{"type": "events\uFFFD_api"}); n != 1 {
		t.Errorf("series = %v, want 1", n)
	}
}

// /metrics as Prometheus scrapes it: in the text format's content type, with the Go runtime's and the process' families, which
// say what the runtime and the kernel say.
func TestServeScrape(t *testing.T) {
	reg := prom.NewRegistry()
	reg.MustRegister(prom.NewGoCollector(), prom.NewProcessCollector())
	old := debug.SetGCPercent(73)
	defer debug.SetGCPercent(old)
	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); rec.Code != 200 || ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("status %d, content type %q", rec.Code, ct)
	}
	e, err := promtest.Parse(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	one := func(name string) float64 {
		t.Helper()
		f := e[name]
		if f == nil || len(f.Samples) != 1 {
			t.Fatalf("%s: %+v", name, f)
		}
		return f.Samples[0].Value
	}
	if v := one("go_gc_gogc_percent"); v != 73 {
		t.Errorf("go_gc_gogc_percent = %v, want 73", v)
	}
	if v := one("go_goroutines"); v < 2 {
		t.Errorf("go_goroutines = %v", v)
	}
	heap, sys := one("go_memstats_heap_inuse_bytes"), one("go_memstats_sys_bytes")
	if heap <= 0 || sys < heap {
		t.Errorf("heap in use %v, sys %v", heap, sys)
	}
	if v := e["go_info"].Samples[0].Labels["version"]; !strings.HasPrefix(v, "go1.") {
		t.Errorf("go_info version %q", v)
	}
	if n := e.Series("go_gc_duration_seconds"); n != 5 {
		t.Errorf("go_gc_duration_seconds has %d quantiles", n)
	}

	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc: the process families are left out")
	}
	var vmRSS float64
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			vmRSS = kb * 1024
		}
	}
	if rss := one("process_resident_memory_bytes"); math.Abs(rss-vmRSS) > 0.2*vmRSS {
		t.Errorf("process_resident_memory_bytes = %v, VmRSS %v", rss, vmRSS)
	}
	if start := one("process_start_time_seconds"); math.Abs(start-float64(time.Now().Unix())) > 3600 {
		t.Errorf("process_start_time_seconds = %v, now %v", start, time.Now().Unix())
	}
	if fds := one("process_open_fds"); fds < 3 || fds > one("process_max_fds") {
		t.Errorf("process_open_fds = %v", fds)
	}
	if one("process_cpu_seconds_total") <= 0 || one("process_virtual_memory_bytes") < vmRSS {
		t.Errorf("cpu or virtual memory: %v %v", one("process_cpu_seconds_total"), one("process_virtual_memory_bytes"))
	}
}

// Scrapes while observations arrive stay well formed: a histogram's +Inf
// bucket always equals its count.
func TestScrapeDuringObservations(t *testing.T) {
	reg := prom.NewRegistry()
	h := prom.NewHistogramVec(prom.HistogramOpts{Name: "ack_seconds", Help: "Acks.", Buckets: []float64{.001, .01, .1}}, nil)
	c := prom.NewCounterVec(prom.CounterOpts{Name: "envelopes_total", Help: "Envelopes."}, []string{"type"})
	reg.MustRegister(h, c)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				h.WithLabelValues().Observe(float64(i%200) / 1000)
				c.WithLabelValues(strconv.Itoa(w)).Inc()
			}
		})
	}
	for range 200 {
		promtest.Scrape(t, reg)
	}
	close(stop)
	wg.Wait()
	e := promtest.Scrape(t, reg)
	if e.Sum("ack_seconds_count", nil) != e.Sum("envelopes_total", nil) {
		t.Errorf("observed %v, counted %v", e.Sum("ack_seconds_count", nil), e.Sum("envelopes_total", nil))
	}
}

// A series already made costs no allocation: the runner counts every
// envelope.
func TestWithLabelValuesAllocatesNothing(t *testing.T) {
	c := prom.NewCounterVec(prom.CounterOpts{Name: "envelopes_total", Help: "Envelopes."}, []string{"type", "outcome"})
	c.WithLabelValues("events_api", "handled").Inc()
	if n := testing.AllocsPerRun(100, func() { c.WithLabelValues("events_api", "handled").Inc() }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// Mistakes in the code that declares metrics stop the bot at start, where
// a test sees them.
func TestMisdeclaredMetricsPanic(t *testing.T) {
	reg := prom.NewRegistry()
	reg.MustRegister(prom.NewCounterVec(prom.CounterOpts{Name: "a_total", Help: "A."}, nil))
	for name, f := range map[string]func(){
		"a name twice":          func() { reg.MustRegister(prom.NewGaugeVec(prom.GaugeOpts{Name: "a_total", Help: "A."}, nil)) },
		"a bad metric name":     func() { prom.NewCounterVec(prom.CounterOpts{Name: "slack-calls", Help: "A."}, nil) },
		"a reserved label name": func() { prom.NewCounterVec(prom.CounterOpts{Name: "b_total", Help: "B."}, []string{"__name"}) },
		"a label twice":         func() { prom.NewCounterVec(prom.CounterOpts{Name: "b_total", Help: "B."}, []string{"x", "x"}) },
		"le on a histogram": func() {
			prom.NewHistogramVec(prom.HistogramOpts{Name: "h", Help: "H.", Buckets: []float64{1}}, []string{"le"})
		},
		"buckets out of order": func() {
			prom.NewHistogramVec(prom.HistogramOpts{Name: "h", Help: "H.", Buckets: []float64{1, 1}}, nil)
		},
		"too few label values": func() {
			prom.NewCounterVec(prom.CounterOpts{Name: "b_total", Help: "B."}, []string{"x", "y"}).WithLabelValues("x")
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}
