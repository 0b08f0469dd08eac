package slacktest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
)

// Fault is what a failing Web API call answers instead of its result.
type Fault struct {
	// Status is the HTTP status: 429 (with RetryAfter), a 5xx, or 0 for
	// 200 with {"ok":false,"error":Error}.
	Status int
	// Error is Slack's error code for a 200 answer.
	Error string
	// RetryAfter is the Retry-After header, in seconds, of a 429.
	RetryAfter int
}

type fault struct {
	method string
	left   int
	Fault
}

// RateLimitNext answers the next n calls to method with 429 and
// Retry-After: retryAfter seconds.
func (s *Server) RateLimitNext(method string, n, retryAfter int) {
	s.FailNext(method, n, Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter})
}

// FailNext answers the next n calls to method with f.
func (s *Server) FailNext(method string, n int, f Fault) {
	s.init()
	if _, ok := methods[method]; !ok {
		panic("slacktest: FailNext: unknown method " + method)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, left: n, Fault: f})
}

// takeFault consumes one planned failure of method, if any.
func (s *Server) takeFault(method string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.method != method {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f.Fault, true
	}
	return Fault{}, false
}

func (s *Server) serveFault(w http.ResponseWriter, c Call, f Fault) {
	s.mu.Lock()
	switch {
	case f.Status == http.StatusTooManyRequests:
		s.served429[c.Method]++
		c.Status, c.Error = f.Status, "ratelimited"
	case f.Status != 0:
		c.Status, c.Error = f.Status, http.StatusText(f.Status)
	default:
		c.Error = f.Error
	}
	s.recordLocked(c)
	s.mu.Unlock()
	s.logf("slacktest: %s -> fault %+v", c.Method, f)
	switch {
	case f.Status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
		writeJSON(w, f.Status, map[string]any{"ok": false, "error": "ratelimited"})
	case f.Status != 0:
		// Slack answers 5xx with an HTML page, not JSON.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		_, _ = fmt.Fprintf(w, "<html><body>%d %s</body></html>", f.Status, http.StatusText(f.Status))
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": f.Error})
	}
}

// Served429 counts the 429 answers served to calls of method, or to all
// methods when method is "".
func (s *Server) Served429(method string) int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if method != "" {
		return s.served429[method]
	}
	n := 0
	for _, v := range s.served429 {
		n += v
	}
	return n
}

// Hold keeps calls to one method waiting until released.
type Hold struct {
	s       *Server
	method  string
	once    sync.Once
	release chan struct{}
	waiting int
}

// Hold makes every call to method wait, after it is counted but before it
// is served, until the returned Hold is released.
func (s *Server) Hold(method string) *Hold {
	s.init()
	h := &Hold{s: s, method: method, release: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holds = append(s.holds, h)
	return h
}

// Release lets every held and future call through.
func (h *Hold) Release() {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	for i, x := range h.s.holds {
		if x == h {
			h.s.holds = append(h.s.holds[:i], h.s.holds[i+1:]...)
			break
		}
	}
	h.unblock()
}

func (h *Hold) unblock() { h.once.Do(func() { close(h.release) }) }

// Wait returns once n calls are being held.
func (h *Hold) Wait(ctx context.Context, n int) error {
	if err := h.s.wait(ctx, func() bool { return h.waiting >= n }); err != nil {
		return fmt.Errorf("waiting for %d held %s calls: %w", n, h.method, err)
	}
	return nil
}

func (s *Server) waitHolds(ctx context.Context, method string) {
	s.mu.Lock()
	var hs []*Hold
	for _, h := range s.holds {
		if h.method == method {
			h.waiting++
			hs = append(hs, h)
		}
	}
	if len(hs) > 0 {
		s.notifyLocked()
	}
	s.mu.Unlock()
	for _, h := range hs {
		select {
		case <-h.release:
		case <-ctx.Done():
		}
	}
}
