package bot

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/alphagov/signon-token-bot/integrations/prom"
	"github.com/alphagov/signon-token-bot/integrations/prom/promtest"
	slackint "github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

type fakeConnection struct{ atomic.Bool }

func (c *fakeConnection) Connected() bool { return c.Load() }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestReadyzReportsSlackAndRedisEach(t *testing.T) {
	redis := redistest.NewMini(t)
	rdb := redis.Client()
	slack := &fakeConnection{}
	reg := prom.NewRegistry()
	slackint.NewMetrics(reg)
	srv := httptest.NewServer(healthHandler(slack, pingFunc(func(ctx context.Context) error { return rdb.Ping(ctx).Err() }), nil, reg))
	defer srv.Close()

	slack.Store(true)
	if code, body := get(t, srv.URL+"/readyz"); code != 200 || body != "slack: connected\nredis: ok\n" {
		t.Errorf("all up: %d %q", code, body)
	}
	slack.Store(false)
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || body != "slack: not connected\nredis: ok\n" {
		t.Errorf("slack down: %d %q", code, body)
	}
	slack.Store(true)
	redis.Stop()
	code, body := get(t, srv.URL+"/readyz")
	if code != 503 || !strings.HasPrefix(body, "slack: connected\nredis: ") || strings.Contains(body, "redis: ok") {
		t.Errorf("redis down: %d %q", code, body)
	}
	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz with redis down: %d %q", code, body)
	}
	code, body = get(t, srv.URL+"/metrics")
	scrape, err := promtest.Parse(body)
	if f := scrape["signon_token_bot_slack_connected"]; code != 200 || err != nil || f == nil || f.Type != "gauge" || len(f.Samples) != 1 || f.Samples[0].Value != 0 {
		t.Errorf("metrics: %d %v\n%s", code, err, body)
	}
	redis.Start()
	if code, _ := get(t, srv.URL+"/readyz"); code != 200 {
		t.Errorf("redis back: %d", code)
	}
}
