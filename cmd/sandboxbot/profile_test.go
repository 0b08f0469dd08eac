//go:build profile

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The heap profile is written when the bot is told to stop, and the bot
// sees its context end only after that: the profile shows the bot as the
// benchmark left it, not a bot already let go.
func TestHeapProfileBeforeTheBotStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.heap.pprof")
	ctx, stop := context.WithCancel(context.Background())
	botCtx, profiled := stopAfterHeapProfile(ctx, path)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a profile before the stop: %v", err)
	}
	stop()
	select {
	case <-botCtx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the bot's context did not end after the stop")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the bot's context ended before the profile was written: %v", err)
	}
	if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Fatalf("the profile is not a gzipped pprof profile: % x", b[:min(len(b), 8)])
	}
	if err := profiled(); err != nil {
		t.Fatal(err)
	}
}

// A bot that returns on its own (an error at start) writes no profile.
func TestNoHeapProfileWithoutAStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.heap.pprof")
	_, profiled := stopAfterHeapProfile(context.Background(), path)
	if err := profiled(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a profile without a stop: %v", err)
	}
}

// An unwritable path is the bot's error once it has stopped.
func TestHeapProfileErrorIsReported(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	_, profiled := stopAfterHeapProfile(ctx, filepath.Join(t.TempDir(), "missing", "memory.heap.pprof"))
	stop()
	if err := profiled(); err == nil {
		t.Fatal("no error for a profile that could not be written")
	}
}
