package kube

import (
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// watchGoroutines counts the goroutines running a list-and-watch loop or
// reading a watch stream.
func watchGoroutines() (loops, streams int) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		switch {
		case strings.Contains(g, "integrations/kube.(*listWatch)"):
			loops++
		case strings.Contains(g, "watch.(*StreamWatcher).receive"):
			streams++
		}
	}
	return loops, streams
}

// Stopping a watcher ends everything it started: its loops have ended
// when stop returns, and the readers of its watch streams soon after.
// Not parallel, so that no other test's watches are counted.
func TestWatcherStopLeavesNoGoroutine(t *testing.T) {
	e := newWatchEnv(t, admin)
	e.configMap(t, "a", "w", nil)
	baseLoops, baseStreams := watchGoroutines()
	w := e.client.newWatcher(testContext(t))
	w.watch(e.client.api.core, "configmaps", e.ns, &corev1.ConfigMap{}, "", "app=w")
	w.watch(e.client.api.core, "pods", e.ns, &corev1.Pod{}, "", "")
	if err := w.sync(); err != nil {
		t.Fatal(err)
	}
	awaitGoroutines(t, "while watching", baseLoops+2, baseStreams+2)
	w.stop()
	if loops, _ := watchGoroutines(); loops != baseLoops {
		t.Errorf("after stop: %d list-and-watch loops, want %d", loops, baseLoops)
	}
	awaitGoroutines(t, "after stop", baseLoops, baseStreams)
}

// awaitGoroutines waits until watchGoroutines counts loops and streams. It
// polls: a goroutine running on another thread shows no stack, so one
// count can miss it.
func awaitGoroutines(t *testing.T, when string, loops, streams int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, s := watchGoroutines()
		if l == loops && s == streams {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d list-and-watch loops and %d watch stream readers, want %d and %d", when, l, s, loops, streams)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
