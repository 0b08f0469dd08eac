package redistest

import (
	"errors"
	"fmt"
)

// Process is a redis-server run by a program rather than a test: the
// reliability harness (cmd/reliability) outlives any one test, and stops,
// crashes and restarts its Redis under the bot it checks. The caller ends
// it with Kill; the kernel ends it if the program dies first.
type Process struct {
	n *node
}

// StartProcess starts bin (a redis-server) on a free loopback port, with
// its files in dir and extra arguments after the usual ones, and returns
// once it answers PING.
func StartProcess(bin, dir string, extra ...string) (*Process, error) {
	if bin == "" {
		return nil, errors.New("redistest: no redis-server given (" + EnvServer + " is the usual place)")
	}
	n := &node{bin: bin, dir: dir, extra: extra}
	if err := n.first(); err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	return &Process{n: n}, nil
}

// Addr is the server's host:port.
func (p *Process) Addr() string { return p.n.addr }

// Stop saves and shuts the server down, as Server.Stop does: Start brings
// the same data back.
func (p *Process) Stop() error {
	if err := p.n.shutdown(); err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	return nil
}

// Start starts a stopped (or lost) server again on the same address.
func (p *Process) Start() error {
	if err := p.n.restart(); err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	return nil
}

// Lose kills the server without saving and deletes what it saved before:
// Start then brings it back empty, as a Redis without persistence comes
// back from a crash.
func (p *Process) Lose() error {
	if err := p.n.lose(); err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	return nil
}

// Running reports whether the server process is up.
func (p *Process) Running() bool { return p.n.running() }

// Log is what the server printed since it last started.
func (p *Process) Log() string { return p.n.log.String() }

// Kill ends the server for good, without saving.
func (p *Process) Kill() { p.n.killProcess() }
