package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// botSetup is how one benchmark runs the bot.
type botSetup struct {
	// Name names the run in the log file's name.
	Name  string
	Fake  *slacktest.Server
	Redis string // host:port
	// Prefix keeps each benchmark's state apart in the one Redis.
	Prefix string
	// Sandbox serves the rotating environments' Signon and cluster.
	Sandbox string
	Dir     string
	// Env adds to the bot's environment.
	Env []string
}

// botProc is the real bot binary running as a child process, with what
// its JSON log has told so far.
type botProc struct {
	*child
	addr chan string
	// HTTP is the base URL of its health and metrics listener.
	HTTP string

	mu sync.Mutex
	// surfaced counts the log records in which a 429 reached the code that
	// called Slack as an error, after the client gave up waiting.
	surfaced int
}

// config is the bot's YAML: production and integration served by the
// sandbox, alice and bob starters (so approvers) in both, staging
// explained only, as GOV.UK runs it.
func (s botSetup) config() string {
	return fmt.Sprintf(`alertChannels: [%s]
alertSenders: [%s]
environments:
  production:
    starters: {users: [%s, %s]}
  integration:
    starters: {users: [%s, %s]}
  staging:
    rotate: false
`, alertsChannel, slacktest.AlertmanagerBotID, alice, bob, alice, bob)
}

// startBot runs the bot against the fake Slack, Redis and the sandbox,
// and returns once its HTTP listener is up.
func startBot(ctx context.Context, bin string, s botSetup) (*botProc, error) {
	cfgPath := filepath.Join(s.Dir, s.Name+"-config.yaml")
	if err := os.WriteFile(cfgPath, []byte(s.config()), 0o600); err != nil {
		return nil, fmt.Errorf("write the bot's configuration: %w", err)
	}
	// The bot paces its calls exactly when the fake enforces Slack's
	// limits (the storm); elsewhere pacing would measure Slack's limits,
	// not the bot.
	pacing := "off"
	if s.Fake.EnforceRateLimits {
		pacing = "on"
	}
	env := append(os.Environ(), "SLACK_PACING="+pacing,
		"SLACK_APP_TOKEN="+s.Fake.AppToken, "SLACK_BOT_TOKEN="+s.Fake.BotToken, "SLACK_API_URL="+s.Fake.URL(),
		"REDIS_URL=redis://"+s.Redis, "STATE_PREFIX="+s.Prefix, "HTTP_ADDR=127.0.0.1:0", "LOG_FORMAT=json",
		"CONFIG_FILE="+cfgPath, "SANDBOX_URL="+s.Sandbox)
	env = append(env, s.Env...)
	b := &botProc{addr: make(chan string, 1)}
	c, err := start(s.Name, bin, []string{"serve"}, env, filepath.Join(s.Dir, s.Name+".log"), b.line)
	if err != nil {
		return nil, err
	}
	b.child = c
	select {
	case addr := <-b.addr:
		b.HTTP = "http://" + addr
		return b, nil
	case <-c.exited:
		return nil, fmt.Errorf("the bot exited before it listened (log: %s)", filepath.Join(s.Dir, s.Name+".log"))
	case <-ctx.Done():
		c.stop(5 * time.Second)
		return nil, fmt.Errorf("waiting for the bot to listen: %w", ctx.Err())
	}
}

// line reads one record of the bot's JSON log.
func (b *botProc) line(text string) {
	var rec struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
		Err  string `json:"err"`
	}
	if json.Unmarshal([]byte(text), &rec) != nil {
		return
	}
	if rec.Msg == "http listening" {
		select {
		case b.addr <- rec.Addr:
		default:
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// The client's own "retrying" notices are 429s handled as they should
	// be; anything else that mentions one is a 429 that got out.
	if rec.Msg != "slack call failed, retrying" && (strings.Contains(text, "still rate limited") || strings.Contains(rec.Err, "ratelimited")) {
		b.surfaced++
	}
}

// Surfaced429s counts the 429s that reached the bot's code as errors.
func (b *botProc) Surfaced429s() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.surfaced
}

// metric sums the samples of a Prometheus metric whose labels include
// every one of labels ("outcome=\"handled\"").
func (b *botProc) metric(ctx context.Context, name string, labels ...string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.HTTP+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	// The ack benchmark scrapes 50 times a second to pace itself; gzip
	// would cost the bot's CPU, which the benchmark measures, for bytes
	// that never leave the machine.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape the bot's metrics: %w", err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		sample, value, ok := cutLast(line, " ")
		if !ok || !hasAll(sample, labels) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %q", name, line)
		}
		sum += v
	}
	return sum, sc.Err()
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func hasAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// goMemory is what the Go runtime says of the bot's memory, from its
// metrics, in MB (goroutines as a count).
func (b *botProc) goMemory(ctx context.Context) (map[string]float64, error) {
	out := map[string]float64{}
	for key, metric := range map[string]string{
		"heap_inuse_mb": "go_memstats_heap_inuse_bytes", "heap_alloc_mb": "go_memstats_heap_alloc_bytes",
		"stack_inuse_mb": "go_memstats_stack_inuse_bytes", "sys_mb": "go_memstats_sys_bytes",
		"next_gc_mb": "go_memstats_next_gc_bytes", "goroutines": "go_goroutines",
	} {
		v, err := b.metric(ctx, metric)
		if err != nil {
			return nil, err
		}
		if metric != "go_goroutines" {
			v = round(v / (1 << 20))
		}
		out[key] = v
	}
	return out, nil
}
