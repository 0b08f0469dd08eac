package kubetest

import (
	"net"
	"net/url"
	"sync"
	"testing"
)

// Link is a TCP path to the apiserver that a test can cut (nothing
// listens on its port, and open connections are reset), mend (listen on
// the same port again), or hang: connections stay open and new ones are
// accepted, but no byte passes either way until it is mended, as with an
// apiserver that has stopped answering without closing anything. Point a
// client's rest.Config Host at "https://" + Addr().
type Link struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	cond  *sync.Cond
	ln    net.Listener
	conns map[net.Conn]bool
	hung  bool
}

// NewLink starts a link to the apiserver at the URL; the test's end cuts
// it.
func NewLink(t testing.TB, apiserver string) *Link {
	t.Helper()
	u, err := url.Parse(apiserver)
	if err != nil {
		t.Fatal(err)
	}
	l := &Link{t: t, target: u.Host, conns: map[net.Conn]bool{}}
	l.cond = sync.NewCond(&l.mu)
	l.listen("127.0.0.1:0")
	t.Cleanup(l.Cut)
	return l
}

// Addr is the link's host:port.
func (l *Link) Addr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr
}

func (l *Link) listen(addr string) {
	l.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		l.t.Fatalf("link: %v", err)
	}
	l.mu.Lock()
	l.ln, l.addr = ln, ln.Addr().String()
	l.mu.Unlock()
	go l.accept(ln)
}

func (l *Link) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", l.target)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		l.conns[c], l.conns[up] = true, true
		l.mu.Unlock()
		go l.pipe(c, up)
		go l.pipe(up, c)
	}
}

// pipe copies src to dst, holding each chunk while the link hangs.
func (l *Link) pipe(dst, src net.Conn) {
	defer func() {
		dst.Close()
		src.Close()
	}()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			l.mu.Lock()
			for l.hung && l.conns[dst] {
				l.cond.Wait()
			}
			open := l.conns[dst]
			l.mu.Unlock()
			if !open {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut closes the listener and every connection through the link.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for c := range l.conns {
		c.Close()
		delete(l.conns, c)
	}
	l.hung = false
	l.cond.Broadcast()
}

// Hang stops every byte on the link, on open connections and new ones,
// without closing anything.
func (l *Link) Hang() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hung = true
}

// Mend ends a hang, or listens on the link's port again after a cut.
func (l *Link) Mend() {
	l.t.Helper()
	l.mu.Lock()
	l.hung = false
	l.cond.Broadcast()
	cut := l.ln == nil
	addr := l.addr
	l.mu.Unlock()
	if cut {
		l.listen(addr)
	}
}
