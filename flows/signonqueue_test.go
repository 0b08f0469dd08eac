package flows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// heldSignon is a Signon whose Tokens calls wait until released, and
// which records the order they started in and how many ran at once.
// Other calls are unexpected.
type heldSignon struct {
	Signon
	release chan struct{}

	mu            sync.Mutex
	started       []string
	running, most int
}

func (h *heldSignon) Tokens(_ context.Context, email, _ string) (TokenSet, error) {
	h.mu.Lock()
	h.started = append(h.started, email)
	h.running++
	h.most = max(h.most, h.running)
	h.mu.Unlock()
	<-h.release
	h.mu.Lock()
	h.running--
	h.mu.Unlock()
	return TokenSet{}, nil
}

func (h *heldSignon) startedSoFar() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.started...)
}

type waits struct {
	mu sync.Mutex
	n  int
	nopObserver
}

func (w *waits) SignonWait(string, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// Two consoles at once; the rest wait and start in the order they came.
func TestSignonCallsAreBoundedAndQueuedInTurn(t *testing.T) {
	h := &heldSignon{release: make(chan struct{})}
	obs := &waits{}
	q := newQueuedSignon(h, "production", 2, obs)
	var wg sync.WaitGroup
	call := func(name string) {
		wg.Go(func() {
			if _, err := q.Tokens(context.Background(), name, "app"); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	call("a")
	call("b")
	waitCond(t, "two calls running", func() bool { return len(h.startedSoFar()) == 2 })
	for i, name := range []string{"c", "d", "e"} {
		call(name)
		waitCond(t, name+" to queue", func() bool { return q.waiting.Load() == int64(i+1) })
	}
	for i := range 5 {
		h.release <- struct{}{}
		if i < 3 {
			waitCond(t, "the next call to start", func() bool { return len(h.startedSoFar()) == 3+i })
		}
	}
	wg.Wait()
	if got := h.startedSoFar(); got[2] != "c" || got[3] != "d" || got[4] != "e" {
		t.Errorf("calls started in order %v, want the queue served first come, first served", got)
	}
	if h.most != 2 {
		t.Errorf("%d calls ran at once, want at most 2", h.most)
	}
	if obs.n != 5 {
		t.Errorf("%d waits observed, want one per call", obs.n)
	}
}

// A caller that gives up while queued leaves with a timeout, and its
// place goes to the next.
func TestAQueuedSignonCallCanGiveUp(t *testing.T) {
	h := &heldSignon{release: make(chan struct{})}
	q := newQueuedSignon(h, "production", 1, nopObserver{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = q.Tokens(context.Background(), "a", "app")
	}()
	waitCond(t, "a call running", func() bool { return len(h.startedSoFar()) == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Tokens(ctx, "b", "app"); !errors.Is(err, ErrTimeout) {
		t.Errorf("a queued call whose context ended: %v, want a timeout", err)
	}
	h.release <- struct{}{}
	<-done
}
