package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// binaries are the programs the benchmarks run as child processes, built
// once into a temporary directory.
type binaries struct {
	Bot, Bare string
}

// build compiles the bare baseline client and, unless given one, the bot:
// with its profiling hooks if profiled, else without, as the image's
// binary is (a linked profiler keeps the runtime's heap sampling on, which
// costs the memory figures about 0.4 MB).
func build(ctx context.Context, dir, bot string, profiled bool) (binaries, error) {
	b := binaries{Bot: bot, Bare: filepath.Join(dir, "bareclient")}
	pkgs := map[string]string{"github.com/alphagov/signon-token-bot/cmd/bench/bareclient": b.Bare}
	if bot == "" {
		b.Bot = filepath.Join(dir, "bot")
		pkgs["github.com/alphagov/signon-token-bot/cmd/sandboxbot"] = b.Bot
	} else if _, err := os.Stat(bot); err != nil {
		return binaries{}, fmt.Errorf("-bot: %w", err)
	}
	for pkg, out := range pkgs {
		// Built as scripts/build-bot.sh builds the image's binary (static,
		// stripped): a dynamically linked build maps the C library and
		// keeps debug sections, which the memory figures would count.
		args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid=", "-o", out}
		if profiled {
			args = append(args, "-tags", "profile")
		}
		cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return binaries{}, fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
		}
	}
	return b, nil
}

// child is a process the benchmark started: the bot or the bare client.
type child struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{}
}

// start runs bin with env, giving each line of its stderr to lines (on
// one goroutine, in order) and keeping a copy in logPath.
func start(name, bin string, args, env []string, logPath string, lines func(string)) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = logFile
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, exited: make(chan struct{})}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(io.TeeReader(stderr, logFile))
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			if lines != nil {
				lines(sc.Text())
			}
		}
	}()
	go func() {
		<-read
		_ = cmd.Wait()
		logFile.Close()
		close(c.exited)
	}()
	return c, nil
}

// Pid is the process id.
func (c *child) Pid() int { return c.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (c *child) Exited() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// stop asks the process to end, as Kubernetes would, and kills it if it
// has not within the grace period.
func (c *child) stop(grace time.Duration) {
	if c.Exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// memory is what /proc says of a process's memory, in bytes: resident
// now (RSS), at its peak (HWM), and of the resident, how much is the
// program's own (Anon: heap, stacks) and how much pages of its binary and
// libraries (File).
type memory struct {
	RSS, HWM, Anon, File int64
}

// readMemory reads /proc/<pid>/status: the memory the process alone
// holds.
func readMemory(pid int) (memory, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("read the memory of process %d: %w", pid, err)
	}
	var m memory
	for line := range strings.SplitSeq(string(raw), "\n") {
		name, value, ok := strings.Cut(line, ":")
		field := map[string]*int64{"VmRSS": &m.RSS, "VmHWM": &m.HWM, "RssAnon": &m.Anon, "RssFile": &m.File}[name]
		if !ok || field == nil {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("process %d: %s is %q", pid, name, value)
		}
		*field = kb << 10
	}
	if m.RSS == 0 {
		return memory{}, fmt.Errorf("process %d: no VmRSS in its status", pid)
	}
	return m, nil
}

// steadyMemory samples a process's memory for window, starting after
// delay, and returns the sample with the largest resident size: what a
// container's memory limit must allow for.
func steadyMemory(ctx context.Context, pid int, delay, window time.Duration) (memory, error) {
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return memory{}, ctx.Err()
	case <-timer.C:
	}
	var best memory
	tick := time.NewTicker(window / 10)
	defer tick.Stop()
	end := time.Now().Add(window)
	for {
		m, err := readMemory(pid)
		if err != nil {
			return memory{}, err
		}
		if m.RSS > best.RSS {
			best = m
		}
		if time.Now().After(end) {
			return best, nil
		}
		select {
		case <-ctx.Done():
			return memory{}, ctx.Err()
		case <-tick.C:
		}
	}
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// cpuTime is the CPU time a process has used, user and system, from
// /proc/<pid>/stat (in clock ticks of 1/100 s, Linux's USER_HZ).
func cpuTime(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read the CPU time of process %d: %w", pid, err)
	}
	// The command name may hold spaces; the fields after it do not.
	_, rest, ok := strings.Cut(string(raw), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, fmt.Errorf("process %d: stat %q", pid, raw)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process %d: stat %q", pid, raw)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
