package bot

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	slackint "github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// startBot runs the whole bot with env and returns its HTTP base URL and
// a channel with Run's error.
func startBot(t *testing.T, ctx context.Context, env map[string]string) (base string, done chan error, logs *logLines) {
	t.Helper()
	logs = &logLines{addr: make(chan string, 1)}
	done = make(chan error, 1)
	p := Program{Wiring: Wiring{SlackRetry: slackint.RetryPolicy{MaxAttempts: 1, BaseDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond}}}
	go func() { done <- p.Run(ctx, nil, getenv(env), strings.NewReader(""), io.Discard, logs) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bot log:\n%s", logs)
		}
	})
	select {
	case addr := <-logs.addr:
		return "http://" + addr, done, logs
	case err := <-done:
		t.Fatalf("run returned before listening: %v\n%s", err, logs)
	case <-ctx.Done():
		t.Fatalf("no HTTP listener:\n%s", logs)
	}
	return "", nil, nil
}

func botEnv(apiURL, redisAddr string) map[string]string {
	return map[string]string{
		"SLACK_APP_TOKEN": "xapp-slacktest", "SLACK_BOT_TOKEN": "xoxb-slacktest", "SLACK_API_URL": apiURL,
		"REDIS_URL": "redis://" + redisAddr, "HTTP_ADDR": "127.0.0.1:0", "STATE_PREFIX": "wait",
	}
}

// Slack unreachable at start-up: the bot stays up, alive and not ready,
// says where it cannot reach Slack, and serves once Slack answers.
func TestBotWaitsForSlackAtStartUp(t *testing.T) {
	redis := redistest.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	apiURL := "http://" + addr + "/api/"

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base, done, logs := startBot(t, ctx, botEnv(apiURL, redis.Addr()))
	waitReadyz(t, base, "slack: not connected: cannot reach Slack at "+apiURL+" (auth.test)")
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("healthz = %d while waiting for Slack", code)
	}
	// A few retries later it is still up.
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), "slack is not answering at start-up") < 3 {
		select {
		case err := <-done:
			t.Fatalf("the bot exited while Slack was unreachable: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("fewer than 3 start-up retries logged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "SLACK_BOT_TOKEN") {
		t.Error("an unreachable Slack is blamed on SLACK_BOT_TOKEN")
	}

	fake := &slacktest.Server{T: t, Addr: addr}
	_ = fake.URL() // starts it
	t.Cleanup(fake.Close)
	if body := waitHTTP(t, base+"/readyz", 200); !strings.HasPrefix(body, "slack: connected\nredis: ok\n") {
		t.Errorf("readyz once Slack answers = %q", body)
	}
	// Slack going away again shows why on /readyz.
	fake.FailNext("apps.connections.open", 1000, slacktest.Fault{Status: 503})
	fake.DropConnections()
	if body := waitHTTP(t, base+"/readyz", 503); !strings.HasPrefix(body, "slack: not connected: ") {
		t.Errorf("readyz with Slack away = %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestBotNamesTheSettingSlackCannotUse(t *testing.T) {
	redis := redistest.New(t)
	fake := slacktest.New(t)
	for _, c := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"revoked bot token", map[string]string{"SLACK_BOT_TOKEN": "xoxb-revoked"}, "Slack refused SLACK_BOT_TOKEN on auth.test: invalid_auth"},
		{"revoked app token", map[string]string{"SLACK_APP_TOKEN": "xapp-revoked"}, "socket mode: Slack refused SLACK_APP_TOKEN on apps.connections.open: invalid_auth"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			env := botEnv(fake.URL(), redis.Addr())
			for k, v := range c.env {
				env[k] = v
			}
			_, done, _ := startBot(t, ctx, env)
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("run = %v, want %q", err, c.wantErr)
				}
			case <-ctx.Done():
				t.Fatal("the bot kept running on a token Slack refuses")
			}
		})
	}
}

func TestBotSaysWhenSlacksNameDoesNotResolve(t *testing.T) {
	redis := redistest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base, done, _ := startBot(t, ctx, botEnv("http://slack.invalid/api/", redis.Addr()))
	waitReadyz(t, base, "slack: not connected: cannot reach Slack at http://slack.invalid/api/ (auth.test): ")
	cancel()
	if err := <-done; err != nil && !strings.Contains(err.Error(), "cannot reach Slack") {
		t.Errorf("run = %v", err)
	}
}

// waitReadyz waits until /readyz answers 503 with a body that begins with
// prefix.
func waitReadyz(t *testing.T, base, prefix string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := get(t, base+"/readyz")
		if code == 503 && strings.HasPrefix(body, prefix) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz = %d %q, want 503 beginning %q", code, body, prefix)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
