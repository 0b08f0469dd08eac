package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/sandbox"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// The people and places of the harness's workspace. Alice and Bob may
// start runs and pass gates; production wants a second person to revoke.
const (
	alice      = "U0ALICE"
	bob        = "U0BOB"
	aliceEmail = "alice@digital.cabinet-office.gov.uk"
	alerts     = "C0ALERTS"
	ops        = "C0OPS"
	env        = flows.Production
	appName    = "Publishing API"
	appSlug    = "publishing-api"
	variable   = "PUBLISHING_API_BEARER_TOKEN"
	statePfx   = state.DefaultPrefix
)

// harness is everything the bot runs against, in this process but for
// Redis and the bot itself: the fake Slack, the Signon double and the
// cluster stand-in served over loopback by a sandbox server, with the kill
// points wired into all three.
type harness struct {
	opt  options
	out  io.Writer
	rng  *rand.Rand
	root string // the module's directory
	dir  string // the work directory
	gobin,
	botBin, // the bot wired to the sandbox (cmd/sandboxbot)
	demoBin string // cmd/demo built with the tokenrecord tag

	redis *redistest.Process
	rdb   *redis.Client
	store *state.Store

	slack   *slacktest.Server
	tb      *slackTB
	signon  *signontest.Signon
	cluster *clustertest.Cluster
	effects *effects
	sandbox *httptest.Server
	killer  *killer
	bots    *supervisor
	scan    *scanner

	// sweeping starts bots with a daily sweep (the sweep phase), and
	// cleaning with production's autopilot at to-gates (the clean-up's).
	sweeping, cleaning atomic.Bool

	stopWatch context.CancelFunc
	watching  sync.WaitGroup

	mu         sync.Mutex
	specs      map[string]*tokenSpec // by API user email
	nextSpec   int
	deliveries []*slacktest.Delivery
	// e2e are the end-to-end tests' outcomes, from the leak scan.
	e2e    testResults
	losses int // times Redis lost its data
	tsBase int64
	nextTS int
	fig    figures
}

func newHarness(ctx context.Context, o options, out io.Writer) (h *harness, err error) {
	redisBin := os.Getenv(redistest.EnvServer)
	if redisBin == "" {
		return nil, fmt.Errorf("%s is not set: run `make reliability`, or eval \"$(scripts/test-deps.sh)\" first", redistest.EnvServer)
	}
	h = &harness{opt: o, out: out, rng: rand.New(rand.NewPCG(uint64(o.seed), 0x5eed)), specs: map[string]*tokenSpec{}, scan: newScanner(),
		tsBase: time.Now().Add(-time.Hour).Unix()}
	h.fig.Seed = o.seed
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	if h.gobin, err = exec.LookPath("go"); err != nil {
		return nil, fmt.Errorf("the go command: %w", err)
	}
	if h.root, err = moduleRoot(ctx, h.gobin); err != nil {
		return nil, err
	}
	if h.dir, err = os.MkdirTemp("", "reliability-"); err != nil {
		return nil, err
	}
	for _, d := range []string{"logs", "redis", "output"} {
		if err := os.Mkdir(filepath.Join(h.dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	h.botBin, h.demoBin = filepath.Join(h.dir, "sandboxbot"), filepath.Join(h.dir, "demo-tokenrecord")
	if err := h.gocmd(ctx, nil, io.Discard, "build", "-o", h.botBin, "./cmd/sandboxbot"); err != nil {
		return nil, fmt.Errorf("build the bot: %w", err)
	}
	if err := h.gocmd(ctx, nil, io.Discard, "build", "-tags", "tokenrecord", "-o", h.demoBin, "./cmd/demo"); err != nil {
		return nil, fmt.Errorf("build the demo with the token recorder: %w", err)
	}

	// Keyspace notifications of string writes let the harness see each
	// write of a run or offer record.
	h.redis, err = redistest.StartProcess(redisBin, filepath.Join(h.dir, "redis"), "--notify-keyspace-events", "K$")
	if err != nil {
		return nil, err
	}
	h.rdb = redis.NewClient(&redis.Options{Addr: h.redis.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second,
		WriteTimeout: time.Second, ContextTimeoutEnabled: true, MaxRetries: 1})
	if h.store, err = state.New(h.rdb, state.Options{Prefix: statePfx}); err != nil {
		return nil, err
	}

	h.killer = &killer{}
	h.tb = &slackTB{logf: h.debug}
	h.slack = &slacktest.Server{T: h.tb, Logf: h.debug, OnCall: h.onSlackCall}
	h.slack.AddUser(slacktest.User{ID: alice, Name: "alice", RealName: "Alice", Email: aliceEmail})
	h.slack.AddUser(slacktest.User{ID: bob, Name: "bob", RealName: "Bob", Email: "bob@digital.cabinet-office.gov.uk"})
	h.slack.AddChannel(alerts, "govuk-alerts", alice, bob, h.slack.BotUserID)
	h.slack.AddChannel(ops, "govuk-ops", alice, bob, h.slack.BotUserID)

	h.signon = signontest.New(nil)
	h.signon.AddHumanUser("Alice", aliceEmail)
	h.signon.AddApplication(appName)
	h.cluster = &clustertest.Cluster{Tokens: h.signon}
	h.effects = &effects{h: h, signon: h.signon, cluster: h.cluster, jobs: map[string]map[string]bool{}, shared: map[string]bool{}, nextJobs: map[string]int{}, revoked: map[int64]int{}, runRevokes: map[string]int{}, early: map[string][]string{}}
	h.sandbox = httptest.NewServer(&sandbox.Server{Envs: map[string]flows.Env{env: {Signon: signonSide{h.effects}, Cluster: clusterSide{h.effects}}}})

	wctx, stop := context.WithCancel(context.Background())
	h.stopWatch = stop
	h.watching.Add(1)
	go func() {
		defer h.watching.Done()
		h.watchWrites(wctx)
	}()
	h.bots = newSupervisor(h)
	return h, nil
}

// close stops everything the harness started and, unless asked to keep
// it, deletes the work directory. Files that hold token plaintexts are
// deleted either way.
func (h *harness) close() {
	if h.bots != nil {
		h.bots.stopAll()
	}
	if h.stopWatch != nil {
		h.stopWatch()
		h.watching.Wait()
	}
	if h.sandbox != nil {
		h.sandbox.Close()
	}
	if h.slack != nil {
		h.slack.Close()
	}
	if h.rdb != nil {
		_ = h.rdb.Close()
	}
	if h.redis != nil {
		h.redis.Kill()
	}
	if h.dir == "" {
		return
	}
	h.scan.forgetFiles()
	if h.opt.keep {
		fmt.Fprintf(h.out, "reliability: kept %s\n", h.dir)
		return
	}
	_ = os.RemoveAll(h.dir)
}

// say tells the person running the harness what is happening.
func (h *harness) say(format string, args ...any) {
	fmt.Fprintf(h.out, "reliability: "+format+"\n", args...)
}

// debug says more, with -v.
func (h *harness) debug(format string, args ...any) {
	if h.opt.verbose {
		h.say(format, args...)
	}
}

// gocmd runs the go command in the module's directory with env added to
// the harness's own environment.
func (h *harness) gocmd(ctx context.Context, env []string, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, h.gobin, args...)
	cmd.Dir = h.root
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stdout = out
	cmd.Stderr = io.MultiWriter(out, &stderr)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, tail(stderr.String(), 20))
	}
	return nil
}

func moduleRoot(ctx context.Context, gobin string) (string, error) {
	out, err := exec.CommandContext(ctx, gobin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the harness inside the signon-token-bot module")
	}
	return filepath.Dir(mod), nil
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
