package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// bot is one run of the bot binary, as `serve` with the harness's
// configuration: Slack at the fake, Redis at the harness's server, the
// production environment at the sandbox.
type bot struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	// stopped is set before the harness kills or stops it: any other exit
	// is the bot's own doing.
	stopped atomic.Bool

	mu   sync.Mutex
	addr string // its HTTP address, once logged
}

// config is the bot's YAML: short leases and sweeps so that a killed
// bot's runs are taken up within a couple of seconds.
func (h *harness) config() (string, error) {
	name, sweep := "config.yaml", ""
	if h.sweeping.Load() {
		// Due at once, whatever the time: the day is the last slot past.
		// The sweep part's days only report: what the crash part left
		// to rotate or clean up is not theirs to start.
		name, sweep = "config-sweep.yaml", fmt.Sprintf("    sweep: {channel: %s, at: \"01:15\"}\n    autopilot: \"off\"\n", ops)
		if h.cleaning.Load() {
			name = "config-cleanup.yaml"
			sweep = strings.Replace(sweep, `autopilot: "off"`, "autopilot: to-gates", 1)
		}
	}
	path := filepath.Join(h.dir, name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	yaml := fmt.Sprintf(`alertChannels: [%s]
alertSenders: [%s]
defaultEnvironment: %s
leaseTTL: 1s
sweepInterval: 200ms
environments:
  %s:
    rotate: true
    starters: {users: [%s, %s]}
    approvers: {users: [%s, %s]}
    syncTimeout: 30s
    rolloutStartTimeout: 10s
    verifyTimeout: 30s
`, alerts, slacktest.AlertmanagerBotID, env, env, alice, bob, alice, bob) + sweep
	return path, os.WriteFile(path, []byte(yaml), 0o600)
}

// startBot starts the bot binary; its output goes to a log file of its
// own, which the leak scan reads.
func (h *harness) startBot(name string) (*bot, error) {
	cfg, err := h.config()
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.fig.BotStarts++
	n := h.fig.BotStarts
	h.mu.Unlock()
	b := &bot{name: name, log: filepath.Join(h.dir, "logs", fmt.Sprintf("%03d-%s.log", n, name)), exited: make(chan struct{})}
	f, err := os.Create(b.log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h.scan.addFile("bot log "+filepath.Base(b.log), b.log)
	b.cmd = exec.Command(h.botBin, "serve")
	b.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + h.dir,
		"SLACK_APP_TOKEN=" + h.slack.AppToken,
		"SLACK_BOT_TOKEN=" + h.slack.BotToken,
		"SLACK_API_URL=" + h.slack.URL(),
		// The fake does not limit calls; pacing would only slow the runs.
		"SLACK_PACING=off",
		"REDIS_URL=redis://" + h.redis.Addr() + "/0",
		"STATE_PREFIX=" + statePfx,
		"HTTP_ADDR=127.0.0.1:0",
		"LOG_LEVEL=debug",
		"CONFIG_FILE=" + cfg,
		"SANDBOX_URL=" + h.sandbox.URL,
	}
	if h.sweeping.Load() {
		// One pod, restarted in place: its sweep lease is its own again.
		b.cmd.Env = append(b.cmd.Env, "POD_NAME="+sweepPod)
	}
	b.cmd.Stdout, b.cmd.Stderr = f, f
	b.cmd.SysProcAttr = sysProcAttr()
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the bot: %w", err)
	}
	go func() {
		_ = b.cmd.Wait()
		close(b.exited)
		if !b.stopped.Load() {
			h.unexpectedExit(b)
		}
	}()
	h.debug("bot %s started (pid %d)", name, b.cmd.Process.Pid)
	return b, nil
}

// unexpectedExit records a bot that died on its own: a finding.
func (h *harness) unexpectedExit(b *bot) {
	out, _ := os.ReadFile(b.log)
	h.mu.Lock()
	h.fig.UnexpectedExits++
	h.mu.Unlock()
	h.say("bot %s exited by itself (%v); its last lines:\n%s", b.name, b.cmd.ProcessState, tail(string(out), 10))
}

func (b *bot) alive() bool {
	select {
	case <-b.exited:
		return false
	default:
		return true
	}
}

func (b *bot) pid() int { return b.cmd.Process.Pid }

// kill SIGKILLs the bot and returns once it is gone.
func (b *bot) kill() {
	b.stopped.Store(true)
	_ = b.cmd.Process.Kill()
	<-b.exited
}

// stop asks the bot to shut down as Kubernetes does (SIGTERM) and kills
// it if it has not within 10 seconds. It reports how it ended.
func (b *bot) stop() error {
	if !b.alive() {
		return nil
	}
	b.stopped.Store(true)
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		b.kill()
		return fmt.Errorf("bot %s did not stop within 10s of SIGTERM", b.name)
	}
	if !b.cmd.ProcessState.Success() {
		return fmt.Errorf("bot %s stopped with %v", b.name, b.cmd.ProcessState)
	}
	return nil
}

// httpAddr is the bot's HTTP address, read from its log once it says.
func (b *bot) httpAddr(ctx context.Context) (string, error) {
	err := waitFor(ctx, "bot "+b.name+" to listen", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.addr != "" {
			return true
		}
		b.addr = listenAddr(b.log)
		return b.addr != "" || !b.alive()
	})
	if err != nil {
		return "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.addr == "" {
		return "", fmt.Errorf("bot %s exited before it listened", b.name)
	}
	return b.addr, nil
}

// listenAddr finds the "http listening" line of a JSON log.
func listenAddr(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "http listening" {
			return line.Addr
		}
	}
	return ""
}

// get fetches one of the bot's HTTP endpoints.
func (b *bot) get(ctx context.Context, path string) (int, string, error) {
	addr, err := b.httpAddr(ctx)
	if err != nil {
		return 0, "", err
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s of bot %s: %w", path, b.name, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

// waitReady waits until /readyz says the bot is connected to Slack and
// Redis answers it.
func (b *bot) waitReady(ctx context.Context) error {
	var last string
	err := waitFor(ctx, "bot "+b.name+" to be ready", func() bool {
		if !b.alive() {
			return true
		}
		code, body, err := b.get(ctx, "/readyz")
		last = body
		return err == nil && code == http.StatusOK
	})
	if err == nil && !b.alive() {
		err = fmt.Errorf("bot %s exited before it was ready", b.name)
	}
	if err != nil {
		return fmt.Errorf("%w (last /readyz: %q)", err, last)
	}
	return nil
}

// supervisor keeps the bots running as a Deployment would: a bot the
// killer kills is started again at once.
type supervisor struct {
	h *harness

	mu  sync.Mutex
	cur map[string]*bot
	all []*bot
	// restarted is called after a killed bot is started again.
	restarted func(name string)
	restarts  sync.WaitGroup
	closed    bool
}

func newSupervisor(h *harness) *supervisor {
	return &supervisor{h: h, cur: map[string]*bot{}}
}

// start starts a bot under the supervisor's name.
func (s *supervisor) start(name string) (*bot, error) {
	b, err := s.h.startBot(name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur[name] = b
	s.all = append(s.all, b)
	return b, nil
}

// current is the running bot of a name.
func (s *supervisor) current(name string) *bot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur[name]
}

// killer returns the kill function for the killer: SIGKILL the named bot,
// count the kill, and start it again in the background.
func (s *supervisor) killer(name string) func(point string) {
	return func(point string) {
		b := s.current(name)
		if b == nil || !b.alive() {
			return
		}
		b.kill()
		s.h.recordKill(point)
		s.h.debug("killed bot %s (pid %d) %s", name, b.pid(), point)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return
		}
		s.restarts.Add(1)
		go func() {
			defer s.restarts.Done()
			if _, err := s.start(name); err != nil {
				s.h.say("restart bot %s: %v", name, err)
				return
			}
			s.mu.Lock()
			f := s.restarted
			s.mu.Unlock()
			if f != nil {
				f(name)
			}
		}()
	}
}

// settle waits for the restarts under way. Call it once the killer is
// disarmed.
func (s *supervisor) settle() { s.restarts.Wait() }

func (s *supervisor) onRestart(f func(name string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restarted = f
}

// stop stops the named bot gracefully and forgets it.
func (s *supervisor) stop(name string) error {
	s.restarts.Wait()
	s.mu.Lock()
	b := s.cur[name]
	delete(s.cur, name)
	s.mu.Unlock()
	if b == nil {
		return nil
	}
	return b.stop()
}

// stopRunning stops every running bot gracefully, so that a phase that
// failed half-way leaves no bot to the next.
func (s *supervisor) stopRunning() {
	s.restarts.Wait()
	s.mu.Lock()
	cur := s.cur
	s.cur = map[string]*bot{}
	s.mu.Unlock()
	for _, b := range cur {
		if err := b.stop(); err != nil {
			s.h.say("%v", err)
		}
	}
}

// stopAll ends every bot, for good.
func (s *supervisor) stopAll() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.restarts.Wait()
	s.mu.Lock()
	all := append([]*bot(nil), s.all...)
	s.cur = map[string]*bot{}
	s.mu.Unlock()
	for _, b := range all {
		if b.alive() {
			if err := b.stop(); err != nil {
				s.h.say("%v", err)
			}
		}
	}
}

// waitFor polls cond until it holds or ctx ends. The bot runs in another
// process: there is nothing to be woken by but a look.
func waitFor(ctx context.Context, what string, cond func() bool) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}
