package bot

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/prom"
	"github.com/alphagov/signon-token-bot/integrations/prom/promtest"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// lines counts the log lines that hold every one of parts.
func lines(log string, parts ...string) int {
	n := 0
next:
	for l := range strings.Lines(log) {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		n++
	}
	return n
}

// An outage of Redis is one line when it starts and one when it ends,
// however many sweeps fail in between.
func TestARedisOutageIsTwoLinesInTheLog(t *testing.T) {
	redis := redistest.New(t)
	fake := slacktest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := botEnv(fake.URL(), redis.Addr())
	env["CONFIG_FILE"] = writeFile(t, "sweepInterval: 200ms\n")
	env["LOG_LEVEL"] = "debug"
	base, done, logs := startBot(t, ctx, env)
	waitHTTP(t, base+"/readyz", 200)
	before := len(logs.String())

	redis.Stop()
	// Wait for several sweeps of both loops to fail.
	deadline := time.Now().Add(20 * time.Second)
	for lines(logs.String()[before:], `"msg":"sweep"`, "unavailable") < 3 || lines(logs.String()[before:], `"msg":"post unposted offers"`) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("sweeps did not fail while Redis was down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	redis.Start()
	waitHTTP(t, base+"/readyz", 200)
	waitFor(t, "the line saying Redis answers again", func() bool {
		return lines(logs.String()[before:], `"msg":"redis is answering again"`) == 1
	})

	out := logs.String()[before:]
	if n := lines(out, `"level":"WARN"`, `"msg":"redis is not answering`); n != 1 {
		t.Errorf("%d lines say Redis is not answering, want 1", n)
	}
	if n := lines(out, `"level":"WARN"`) + lines(out, `"level":"ERROR"`); n != 1 {
		t.Errorf("%d WARN and ERROR lines during the outage, want the 1 that says it began:\n%s", n, out)
	}
	if strings.Contains(out, "list unposted offers: list unposted offers") {
		t.Error("a doubled prefix in the log")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// waitFor polls cond until it holds or 15s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A healthy Redis counts no server errors: not the NOSCRIPT of a script's
// first EVALSHA, go-redis's cue to send it, nor the handshake commands
// older Redis versions refuse at each new connection.
func TestAFreshRedisCountsNoServerErrors(t *testing.T) {
	redis := redistest.New(t)
	rdb, err := newRedis(RedisConfig{URL: "redis://" + redis.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	reg := prom.NewRegistry()
	h := newRedisErrors(reg, slog.New(slog.DiscardHandler))
	rdb.AddHook(h)
	store, err := state.New(rdb, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Audit(ctx, flows.AuditEntry{RunID: "r-fresh", At: time.Now(), Action: "start"}); err != nil {
		t.Fatal(err)
	}
	if n := promtest.Scrape(t, reg).Sum("signon_token_bot_redis_errors_total", map[string]string{"kind": "server"}); n != 0 {
		t.Errorf("server errors on a healthy Redis = %v, want 0", n)
	}
	// A command Redis refuses is still counted.
	_ = rdb.Do(ctx, "NOSUCHCOMMAND").Err()
	if n := promtest.Scrape(t, reg).Sum("signon_token_bot_redis_errors_total", map[string]string{"kind": "server"}); n != 1 {
		t.Errorf("server errors after an unknown command = %v, want 1", n)
	}
}

// The bot's Redis connections buffer 8 KiB each way, not go-redis' 32
// KiB, and still read a batch of runs far larger than that intact.
func TestRedisConnectionsBufferLittle(t *testing.T) {
	srv := redistest.New(t)
	c, err := newRedis(RedisConfig{URL: "redis://" + srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opt := c.(*redis.Client).Options()
	if opt.ReadBufferSize != 8<<10 || opt.WriteBufferSize != 8<<10 {
		t.Errorf("buffers %d and %d bytes, want 8 KiB each way", opt.ReadBufferSize, opt.WriteBufferSize)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys := make([]string, 500)
	want := map[string]string{}
	for i := range keys {
		keys[i] = fmt.Sprintf("run-%03d", i)
		want[keys[i]] = strings.Repeat(fmt.Sprintf("%03d", i), 1000) // 3 KB, as a run's record
		if err := c.Set(ctx, keys[i], want[keys[i]], 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.MGet(ctx, keys...).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != want[keys[i]] {
			t.Fatalf("%s read back %d bytes, not the %d written", keys[i], len(fmt.Sprint(v)), len(want[keys[i]]))
		}
	}
}
