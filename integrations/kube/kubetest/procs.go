package kubetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// podProcs is what `ps` would show in one pod: the process groups its
// exec requests started, which run on until they end or the pod stops.
type podProcs struct {
	mu      sync.Mutex
	groups  map[int]bool // by process group id
	stopped bool
}

func (p *podProcs) start(c *exec.Cmd) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return fmt.Errorf("the pod's containers have stopped")
	}
	if err := c.Start(); err != nil {
		return err
	}
	if p.groups == nil {
		p.groups = map[int]bool{}
	}
	p.groups[c.Process.Pid] = true
	return nil
}

// done forgets a group whose leader has been reaped. Its other members,
// if any outlived it, are still listed by Processes through /proc until
// the pod stops.
func (p *podProcs) done(c *exec.Cmd) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(members(c.Process.Pid)) == 0 {
		delete(p.groups, c.Process.Pid)
	}
}

// stop kills every process the pod's exec requests started, as stopping
// its containers would.
func (p *podProcs) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	for g := range p.groups {
		_ = syscall.Kill(-g, syscall.SIGKILL)
	}
}

// list returns the argument list of every live process of the pod's exec
// requests, as /proc shows it now (after any exec(2) the process made).
func (p *podProcs) list() [][]string {
	p.mu.Lock()
	groups := make([]int, 0, len(p.groups))
	for g := range p.groups {
		groups = append(groups, g)
	}
	p.mu.Unlock()
	var out [][]string
	for _, g := range groups {
		out = append(out, members(g)...)
	}
	return out
}

// members lists the live (not zombie) processes of a process group by
// their argument lists.
func members(pgid int) [][]string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out [][]string
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" || f[2] != strconv.Itoa(pgid) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		out = append(out, strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"))
	}
	slices.SortFunc(out, func(a, b []string) int { return slices.Compare(a, b) })
	return out
}
