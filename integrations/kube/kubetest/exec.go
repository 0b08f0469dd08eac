package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// localExec runs an exec request as a process on this machine with the
// container's environment, standing in for the container runtime.
type localExec struct {
	environ []string
	dir     string
	// procs is the pod's table of exec'd processes.
	procs *podProcs
}

// ExecInContainer runs cmd. A command that is not on the container's PATH
// exits 127 with a message on stderr, as a shell in a container would
// report it; a non-zero exit is returned as a utilexec.ExitError so that
// the exec protocol carries the code back to the client.
//
// As a container runtime does, it lets the process run on when the client
// goes away: the stream closing is not a signal to the process, and what
// the process writes afterwards goes nowhere without failing its writes.
// Only the process ending, or its pod stopping, ends it.
func (e *localExec) ExecInContainer(_ context.Context, _, _, _ string, cmd []string, in io.Reader, out, errOut io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	bin, err := e.lookPath(cmd[0])
	if err != nil {
		if errOut != nil {
			fmt.Fprintf(errOut, "exec: %q: executable file not found in $PATH\n", cmd[0])
		}
		return utilexec.CodeExitError{Err: err, Code: 127}
	}
	c := exec.Command(bin, cmd[1:]...)
	c.Args[0] = cmd[0]
	c.Env = e.environ
	c.Dir = e.dir
	// Its own process group, so that the pod can list and stop what it
	// started; Pdeathsig so that nothing outlives a test binary that dies.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if out != nil {
		c.Stdout = &detachable{w: out}
	}
	if errOut != nil {
		c.Stderr = &detachable{w: errOut}
	}
	if in != nil {
		// Copied by hand so that a client that never closes stdin cannot
		// keep the exec open after the process ends.
		w, err := c.StdinPipe()
		if err != nil {
			return err
		}
		go func() {
			_, _ = io.Copy(w, in)
			w.Close()
		}()
	}
	if err := e.procs.start(c); err != nil {
		return err
	}
	err = c.Wait()
	e.procs.done(c)
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return &utilexec.ExitErrorWrapper{ExitError: exitErr}
	}
	return err
}

// detachable passes writes on until the first one fails (the client has
// gone), then swallows them: the process never learns that nobody reads.
type detachable struct {
	mu   sync.Mutex
	w    io.Writer
	gone bool
}

func (d *detachable) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.gone {
		if _, err := d.w.Write(p); err != nil {
			d.gone = true
		}
	}
	return len(p), nil
}

// lookPath finds a command on the container's PATH, not the test's.
func (e *localExec) lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	path := ""
	for _, kv := range e.environ {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}
