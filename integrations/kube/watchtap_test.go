package kube

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// tap sits in a client's transport, between the client and the real
// apiserver, and records the lists and watches the client sends and the
// events each watch carries. It can also hold the next watch until the
// test lets it go, so that a test can change things while no watch is
// open.
type tap struct {
	t    *testing.T
	next http.RoundTripper

	mu      sync.Mutex
	calls   []*tapCall
	holding chan struct{} // closed to release a held watch
	held    chan *tapCall // the watch the tap holds
}

// tapCall is one list or watch.
type tapCall struct {
	watch    bool
	resource string
	query    map[string]string
	err      error // of the round trip
	events   []tapEvent
	ended    bool // the stream ended
}

type tapEvent struct{ typ, rv, name, code, reason string }

// newTap returns the tap and a copy of rc whose requests pass through it.
func newTap(t *testing.T, rc *rest.Config) (*tap, *rest.Config) {
	tp := &tap{t: t}
	rc = rest.CopyConfig(rc)
	rc.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		tp.next = rt
		return tp
	})
	return tp, rc
}

func (tp *tap) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	call := &tapCall{watch: q.Get("watch") == "true" || q.Get("watch") == "1", resource: path.Base(req.URL.Path), query: map[string]string{}}
	for k := range q {
		call.query[k] = q.Get(k)
	}
	tp.mu.Lock()
	tp.calls = append(tp.calls, call)
	holding, held := tp.holding, tp.held
	if call.watch && holding != nil {
		tp.holding, tp.held = nil, nil
	}
	tp.mu.Unlock()
	if call.watch && holding != nil {
		held <- call
		select {
		case <-holding:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	resp, err := tp.next.RoundTrip(req)
	if err != nil {
		tp.mu.Lock()
		call.err = err
		tp.mu.Unlock()
		return nil, err
	}
	if call.watch {
		resp.Body = &tapBody{ReadCloser: resp.Body, tp: tp, call: call}
	}
	return resp, nil
}

// holdNextWatch makes the next watch wait; it comes out of the returned
// channel, and goes on when release is closed.
func (tp *tap) holdNextWatch() (held <-chan *tapCall, release chan struct{}) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	release, h := make(chan struct{}), make(chan *tapCall, 1)
	tp.holding, tp.held = release, h
	return h, release
}

// snapshot returns copies of the calls for resource so far.
func (tp *tap) snapshot(resource string) (lists int, watches []tapCall) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, c := range tp.calls {
		switch {
		case c.resource != resource:
		case c.watch:
			cc := *c
			cc.events = slices.Clone(c.events)
			watches = append(watches, cc)
		default:
			lists++
		}
	}
	return lists, watches
}

// waitFor polls the tap until cond holds for resource's calls, or fails
// the test after a deadline.
func (tp *tap) waitFor(what, resource string, cond func(lists int, watches []tapCall) bool) (int, []tapCall) {
	tp.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lists, watches := tp.snapshot(resource)
		if cond(lists, watches) {
			return lists, watches
		}
		if time.Now().After(deadline) {
			tp.t.Fatalf("no %s within 30 s: %d lists, watches %+v", what, lists, watches)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tapBody reads a watch's events as the client reads them: the apiserver
// writes each event as one line of JSON.
type tapBody struct {
	io.ReadCloser
	tp   *tap
	call *tapCall
	buf  []byte
}

func (b *tapBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.buf = append(b.buf, p[:n]...)
	for {
		i := bytes.IndexByte(b.buf, '\n')
		if i < 0 {
			break
		}
		var ev struct {
			Type   string `json:"type"`
			Object struct {
				Metadata struct {
					Name            string `json:"name"`
					ResourceVersion string `json:"resourceVersion"`
				} `json:"metadata"`
				Code   json.Number `json:"code"`
				Reason string      `json:"reason"`
			} `json:"object"`
		}
		if jerr := json.Unmarshal(b.buf[:i], &ev); jerr != nil {
			b.tp.t.Errorf("tap: a watch line is not an event: %v", jerr)
		}
		b.buf = b.buf[i+1:]
		b.tp.mu.Lock()
		b.call.events = append(b.call.events, tapEvent{typ: ev.Type, rv: ev.Object.Metadata.ResourceVersion, name: ev.Object.Metadata.Name,
			code: ev.Object.Code.String(), reason: ev.Object.Reason})
		b.tp.mu.Unlock()
	}
	if err != nil {
		b.tp.mu.Lock()
		b.call.ended = true
		b.tp.mu.Unlock()
	}
	return n, err
}

func (b *tapBody) Close() error {
	b.tp.mu.Lock()
	b.call.ended = true
	b.tp.mu.Unlock()
	return b.ReadCloser.Close()
}

var _ http.RoundTripper = (*tap)(nil)
