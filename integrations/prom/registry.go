package prom

import (
	"fmt"
	"net/http"
	"sync"
)

// Collector is one or more metric families that a Registry writes on
// every scrape. Its methods are unexported: the families of this package
// are the only ones, so that every line they write keeps to the format.
type Collector interface {
	// names are the families' names.
	names() []string
	write(w *writer)
}

// Registry is what /metrics serves: the families registered with it, in
// the order they were registered.
type Registry struct {
	mu    sync.Mutex
	cs    []Collector
	taken map[string]bool
}

// NewRegistry makes an empty Registry.
func NewRegistry() *Registry {
	return &Registry{taken: map[string]bool{}}
}

// MustRegister adds the collectors. A second family of a name already
// registered is a programming error, as Prometheus would merge the two
// into one; it panics.
func (r *Registry) MustRegister(cs ...Collector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		for _, n := range c.names() {
			if r.taken[n] {
				panic(fmt.Sprintf("prom: metric %s registered twice", n))
			}
			r.taken[n] = true
		}
		r.cs = append(r.cs, c)
	}
}

// contentType is the text format's, version 0.0.4.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// ServeHTTP answers a scrape with every family. It always answers in the
// text format, which every Prometheus accepts, whatever the Accept header
// prefers, and uncompressed: a scrape is a few kilobytes.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	cs := r.cs[:len(r.cs):len(r.cs)]
	r.mu.Unlock()
	tw := scrapeBuffers.Get().(*writer)
	tw.b = tw.b[:0]
	for _, c := range cs {
		c.write(tw)
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(tw.b)
	scrapeBuffers.Put(tw)
}

// scrapeBuffers keeps the last scrapes' buffers (tens of kilobytes each)
// for the next: a scrape would otherwise leave one to the collector every
// time.
var scrapeBuffers = sync.Pool{New: func() any { return &writer{b: make([]byte, 0, 32<<10)} }}

var _ http.Handler = (*Registry)(nil)
