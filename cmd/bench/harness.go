package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"testing"
)

// harness lets a program use the test doubles (redistest's redis-server,
// slacktest's fake Slack), which report through a testing.TB: it runs
// their cleanups when the benchmark ends, records the strictness
// violations the fake reports (a call a real Slack would reject), and
// turns a fatal report into a panic that run recovers as an error.
//
// testing.TB cannot be implemented outside the testing package, so the
// interface is embedded and left nil: the doubles call only the methods
// defined here, and any other would panic at once.
type harness struct {
	testing.TB

	log io.Writer

	mu         sync.Mutex
	cleanups   []func()
	violations []string
}

// fatal is what a double's Fatal becomes: run recovers it.
type fatal string

func newHarness(log io.Writer) *harness { return &harness{log: log} }

func (h *harness) Helper() {}

func (h *harness) Logf(format string, args ...any) {
	fmt.Fprintf(h.log, format+"\n", args...)
}

func (h *harness) Errorf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.violations = append(h.violations, fmt.Sprintf(format, args...))
}

func (h *harness) Error(args ...any) { h.Errorf("%s", fmt.Sprint(args...)) }

func (h *harness) Fatalf(format string, args ...any) { panic(fatal(fmt.Sprintf(format, args...))) }

func (h *harness) Fatal(args ...any) { panic(fatal(fmt.Sprint(args...))) }

// Skipf is how redistest says redis-server is not configured.
func (h *harness) Skipf(format string, args ...any) { h.Fatalf(format, args...) }

func (h *harness) Failed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.violations) > 0
}

func (h *harness) TempDir() string {
	dir, err := os.MkdirTemp("", "signon-token-bot-bench-")
	if err != nil {
		h.Fatalf("bench: temporary directory: %v", err)
	}
	h.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func (h *harness) Cleanup(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cleanups = append(h.cleanups, f)
}

// close runs the cleanups, the newest first, as testing does.
func (h *harness) close() {
	h.mu.Lock()
	fs := slices.Clone(h.cleanups)
	h.cleanups = nil
	h.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}

// Violations are the strictness violations reported so far.
func (h *harness) Violations() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.violations)
}

// scope runs f, turning a double's fatal report into an error.
func scope(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			msg, ok := p.(fatal)
			if !ok {
				panic(p)
			}
			err = fmt.Errorf("%s", msg)
		}
	}()
	return f()
}
