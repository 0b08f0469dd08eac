package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// localExec runs an exec request as a process on this machine with the
// container's environment, standing in for the container runtime.
type localExec struct {
	environ []string
	dir     string
}

// ExecInContainer runs cmd. A command that is not on the container's PATH
// exits 127 with a message on stderr, as a shell in a container would
// report it; a non-zero exit is returned as a utilexec.ExitError so that
// the exec protocol carries the code back to the client.
func (e *localExec) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, in io.Reader, out, errOut io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	bin, err := e.lookPath(cmd[0])
	if err != nil {
		if errOut != nil {
			fmt.Fprintf(errOut, "exec: %q: executable file not found in $PATH\n", cmd[0])
		}
		return utilexec.CodeExitError{Err: err, Code: 127}
	}
	c := exec.CommandContext(ctx, bin, cmd[1:]...)
	c.Args[0] = cmd[0]
	c.Env = e.environ
	c.Dir = e.dir
	if out != nil {
		c.Stdout = out
	}
	if errOut != nil {
		c.Stderr = errOut
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
	err = c.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return &utilexec.ExitErrorWrapper{ExitError: exitErr}
	}
	return err
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
