package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// readyTimeout bounds a server's start and stop. The test machines are
// small and shared, so it is generous; a healthy start takes milliseconds.
const readyTimeout = 20 * time.Second

// binary is the redis-server to run, or the end of the test if there is none.
func binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvServer)
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: %s is not set; run `make test`", EnvServer)
		}
		t.Skipf("redistest: %s is not set; run `make test`", EnvServer)
	}
	return bin
}

// node is one redis-server process, restartable on its port.
type node struct {
	bin, dir string
	extra    []string
	addr     string

	cmd    *exec.Cmd
	exited chan struct{}
	log    *logBuffer
}

// startNode starts a server on a free loopback port for a test, which
// kills it when it ends.
func startNode(t testing.TB, bin, dir string, extra []string) *node {
	t.Helper()
	n := &node{bin: bin, dir: dir, extra: extra}
	t.Cleanup(func() { n.kill(t) })
	if err := n.first(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return n
}

// first launches the server on a free loopback port. Another process may
// take the port between choosing and binding it, so a bind failure is
// retried on a new port.
func (n *node) first() error {
	for attempt := 1; ; attempt++ {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		n.addr = addr
		err = n.launch()
		if err == nil {
			return nil
		}
		if attempt == 3 || !strings.Contains(n.log.String(), "Address already in use") {
			return err
		}
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (n *node) start(t testing.TB) {
	t.Helper()
	if err := n.restart(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
}

// restart starts the stopped server again on its address.
func (n *node) restart() error {
	if n.running() {
		return fmt.Errorf("start %s: already running", n.addr)
	}
	return n.launch()
}

func (n *node) launch() error {
	_, port, _ := net.SplitHostPort(n.addr)
	args := append([]string{
		"--port", port,
		"--bind", "127.0.0.1",
		"--dir", n.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", "",
	}, n.extra...)
	n.log = &logBuffer{}
	n.cmd = exec.Command(n.bin, args...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.cmd.SysProcAttr = sysProcAttr()
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.bin, err)
	}
	n.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(n.cmd, n.exited)
	if err := n.waitReady(); err != nil {
		n.killProcess()
		return fmt.Errorf("redis-server on %s: %w\n%s", n.addr, err, n.log.String())
	}
	return nil
}

// waitReady pings until the server answers, it exits, or the deadline.
func (n *node) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1, DialTimeout: 250 * time.Millisecond})
	defer c.Close()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-n.exited:
			return fmt.Errorf("exited before answering PING (%v)", n.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("no answer to PING within %v: %w", readyTimeout, err)
		case <-tick.C:
		}
	}
}

func (n *node) running() bool {
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// stop saves and shuts the server down, and waits until it has exited.
func (n *node) stop(t testing.TB) {
	t.Helper()
	if err := n.shutdown(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
}

func (n *node) shutdown() error {
	if !n.running() {
		return fmt.Errorf("stop %s: not running", n.addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1})
	defer c.Close()
	// The server closes the connection instead of replying; exiting is
	// the answer that counts.
	_ = c.ShutdownSave(ctx).Err()
	select {
	case <-n.exited:
	case <-ctx.Done():
		n.killProcess()
		return fmt.Errorf("%s did not shut down within %v\n%s", n.addr, readyTimeout, n.log.String())
	}
	if !n.cmd.ProcessState.Success() {
		return fmt.Errorf("%s shut down with %v\n%s", n.addr, n.cmd.ProcessState, n.log.String())
	}
	return nil
}

// lose kills the server without saving and deletes what it saved
// before, so that it starts again empty.
func (n *node) lose() error {
	n.killProcess()
	for _, f := range []string{"dump.rdb", "appendonly.aof", "appendonlydir"} {
		if err := os.RemoveAll(filepath.Join(n.dir, f)); err != nil {
			return fmt.Errorf("forget the data of %s: %w", n.addr, err)
		}
	}
	return nil
}

// kill ends the process at the end of the test, showing its log if the
// test failed.
func (n *node) kill(t testing.TB) {
	n.killProcess()
	if t.Failed() && n.log != nil {
		t.Logf("redistest: log of redis-server on %s:\n%s", n.addr, n.log.String())
	}
}

func (n *node) killProcess() {
	if !n.running() {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
}

// logBuffer collects a server's output; the process writes it while the
// test may read it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// port is the numeric port of a host:port.
func port(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}
