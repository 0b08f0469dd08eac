package slack_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/prom"
	"github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// syncBuffer is a log that tests read while the runner writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// count is how many lines of the log hold every one of parts.
func (s *syncBuffer) count(parts ...string) int {
	n := 0
lines:
	for l := range strings.Lines(s.String()) {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue lines
			}
		}
		n++
	}
	return n
}

func infoLogger(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// Slack unreachable at start-up: the runner keeps trying, says where it
// cannot reach, counts each apps.connections.open, and connects once
// Slack answers.
func TestRunnerKeepsTryingWhileSlackIsUnreachable(t *testing.T) {
	addr := refusedAddr(t)
	logs := &syncBuffer{}
	reg := prom.NewRegistry()
	f := &fixture{reg: reg, metrics: slack.NewMetrics(reg)}
	f.client = slack.New(slack.Config{
		BotToken: "xoxb-slacktest", AppToken: "xapp-slacktest", APIURL: "http://" + addr + "/api/",
		Metrics: f.metrics, Logger: infoLogger(logs),
	})
	r, stop := startRunner(t, f, handlerFunc(func(context.Context, slack.Envelope) {}), slack.RunnerConfig{})
	where := "cannot reach Slack at http://" + addr + "/api/"
	waitFor(t, "three failed attempts logged", func() bool { return logs.count(`"level":"INFO"`, where) >= 3 })
	if r.Connected() {
		t.Fatal("Connected while Slack refuses connections")
	}
	if n := f.calls(t, "apps.connections.open", "network_error"); n < 3 {
		t.Errorf("apps.connections.open network_error counted %d times, want at least 3", n)
	}
	if n := f.metric(t, "signon_token_bot_slack_connection_events_total", map[string]string{"event": "failed"}); n < 3 {
		t.Errorf("failed connection events = %v, want at least 3", n)
	}
	if strings.Contains(logs.String(), "SLACK_BOT_TOKEN") {
		t.Errorf("an unreachable Slack is blamed on a token:\n%s", logs)
	}

	fake := &slacktest.Server{T: t, Addr: addr}
	t.Cleanup(fake.Close)
	if err := fake.WaitConnected(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Connected once Slack answers", r.Connected)
	// The line is written just after the runner says it is connected.
	waitFor(t, "a line saying the connection opened", func() bool { return logs.count(`"msg":"socket mode connected"`) >= 1 })
	if logs.count(`"msg":"socket mode connected"`) != 1 {
		t.Errorf("no line says the connection opened:\n%s", logs)
	}
	if n := f.calls(t, "apps.connections.open", "ok"); n != 1 {
		t.Errorf("apps.connections.open ok counted %d times, want 1", n)
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v after Slack came back", err)
	}
}

func TestRunnerLogsEveryDisconnectWithItsReason(t *testing.T) {
	f := newFixture(t, nil)
	logs := &syncBuffer{}
	ctx := ctxT(t)
	r, _ := startRunner(t, f, handlerFunc(func(context.Context, slack.Envelope) {}), slack.RunnerConfig{
		Logger: infoLogger(logs), PingInterval: 500 * time.Millisecond,
	})
	if err := f.fake.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Connected", r.Connected)

	steps := []struct {
		do     func()
		reason string
	}{
		{func() { f.fake.Disconnect("refresh_requested") }, "Slack asked the bot to reconnect (refresh_requested)"},
		{f.fake.DropConnections, "the connection was lost: "},
		{func() { f.fake.StopPings(true) }, "Slack sent no ping for 500ms"},
	}
	for i, s := range steps {
		s.do()
		if err := f.fake.WaitConnected(ctx, i+2); err != nil {
			t.Fatalf("reconnecting after %q: %v", s.reason, err)
		}
		f.fake.StopPings(false)
		waitFor(t, "the disconnect logged with "+s.reason, func() bool {
			return logs.count(`"msg":"socket mode disconnected"`, s.reason) == 1
		})
	}
	waitFor(t, "Connected again", r.Connected)
	for event, want := range map[string]float64{"connecting": 4, "connected": 4, "disconnected": 3} {
		if n := f.metric(t, "signon_token_bot_slack_connection_events_total", map[string]string{"event": event}); n != want {
			t.Errorf("%s events = %v, want %v", event, n, want)
		}
	}
	if n := logs.count(`"level":"INFO"`, `"msg":"socket mode connecting"`); n != 4 {
		t.Errorf("%d connecting lines, want 4:\n%s", n, logs)
	}
	if n := f.calls(t, "apps.connections.open", "ok"); n != 4 {
		t.Errorf("apps.connections.open ok counted %d times, want 4", n)
	}
}

// A token Slack refuses stops the runner with an error that names
// SLACK_APP_TOKEN, including the refusals slack-go would retry for ever.
func TestRunnerStopsWhenSlackRefusesTheAppToken(t *testing.T) {
	for _, c := range []struct {
		name     string
		appToken func(*slacktest.Server) string
		fault    string
		code     string
	}{
		{name: "wrong token", appToken: func(*slacktest.Server) string { return "xapp-revoked" }, code: "invalid_auth"},
		{name: "bot token as app token", appToken: func(s *slacktest.Server) string { return s.BotToken }, code: "not_allowed_token_type"},
		{name: "expired", fault: "token_expired", code: "token_expired"},
		{name: "no connections:write", fault: "missing_scope", code: "missing_scope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := slacktest.New(t)
			token := fake.AppToken
			if c.appToken != nil {
				token = c.appToken(fake)
			}
			if c.fault != "" {
				fake.FailNext("apps.connections.open", 1000, slacktest.Fault{Error: c.fault})
			}
			reg := prom.NewRegistry()
			m := slack.NewMetrics(reg)
			client := slack.New(slack.Config{BotToken: fake.BotToken, AppToken: token, APIURL: fake.URL(), Metrics: m})
			r := slack.NewRunner(client, handlerFunc(func(context.Context, slack.Envelope) {}), slack.RunnerConfig{})
			err := r.Run(ctxT(t))
			want := "socket mode: Slack refused SLACK_APP_TOKEN on apps.connections.open: " + c.code
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Run = %v, want %s…", err, want)
			}
			if strings.Contains(err.Error(), token) {
				t.Error("the error holds the token")
			}
			f := &fixture{reg: reg}
			if n := f.calls(t, "apps.connections.open", "error"); n != 1 {
				t.Errorf("apps.connections.open error counted %d times, want 1", n)
			}
		})
	}
}

// A transient error code from apps.connections.open is retried.
func TestRunnerRetriesSlacksTransientErrors(t *testing.T) {
	f := newFixture(t, nil)
	f.fake.FailNext("apps.connections.open", 2, slacktest.Fault{Error: "internal_error"})
	f.fake.FailNext("apps.connections.open", 1, slacktest.Fault{Status: 503})
	r, _ := startRunner(t, f, handlerFunc(func(context.Context, slack.Envelope) {}), slack.RunnerConfig{})
	waitFor(t, "Connected", r.Connected)
	if n := f.calls(t, "apps.connections.open", "error"); n != 2 {
		t.Errorf("error counted %d times, want 2", n)
	}
	if n := f.calls(t, "apps.connections.open", "server_error"); n != 1 {
		t.Errorf("server_error counted %d times, want 1", n)
	}
}
