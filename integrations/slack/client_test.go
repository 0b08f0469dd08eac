package slack_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/integrations/prom"
	"github.com/alphagov/signon-token-bot/integrations/prom/promtest"
	"github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// sleeps records the waits between attempts instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

type fixture struct {
	fake    *slacktest.Server
	client  *slack.Client
	metrics *slack.Metrics
	reg     *prom.Registry
	sleeps  *sleeps
}

func newFixture(t testing.TB, hc *http.Client) *fixture {
	t.Helper()
	f := &fixture{fake: slacktest.New(t), reg: prom.NewRegistry(), sleeps: &sleeps{}}
	f.fake.AddUser(slacktest.User{ID: "U0ALICE", Name: "alice", Email: "alice@example.gov.uk"})
	f.fake.AddUserGroup("S0OPS", "U0ALICE")
	f.fake.AddChannel("C0ALERTS", "alerts", "U0ALICE", f.fake.BotUserID)
	f.metrics = slack.NewMetrics(f.reg)
	f.client = slack.New(slack.Config{
		BotToken: f.fake.BotToken, AppToken: f.fake.AppToken, APIURL: f.fake.URL(),
		HTTPClient: hc, Metrics: f.metrics, Sleep: f.sleeps.sleep,
	})
	return f
}

func (f *fixture) calls(t *testing.T, method, outcome string) int {
	t.Helper()
	return int(f.metric(t, "signon_token_bot_slack_api_calls_total", map[string]string{"method": method, "outcome": outcome}))
}

// metric sums the series of a metric whose labels include want, as a
// scrape of /metrics reads them.
func (f *fixture) metric(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	return promtest.Scrape(t, f.reg).Sum(name, want)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRateLimitedCallWaitsRetryAfterAndSucceeds(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	ts, err := f.client.PostMessage(ctx, "C0ALERTS", slackapi.MsgOptionText("status", false))
	if err != nil {
		t.Fatal(err)
	}
	f.fake.RateLimitNext("chat.update", 2, 3)
	if err := f.client.UpdateMessage(ctx, "C0ALERTS", ts, slackapi.MsgOptionText("status, later", false)); err != nil {
		t.Fatalf("update: %v", err)
	}
	if got := f.sleeps.got(); len(got) != 2 || got[0] != 3*time.Second || got[1] != 3*time.Second {
		t.Errorf("waited %v, want Retry-After twice (3s, 3s)", got)
	}
	if m, _ := f.fake.Message("C0ALERTS", ts, ""); m.Text != "status, later" {
		t.Errorf("message = %q", m.Text)
	}
	if got := f.calls(t, "chat.update", "rate_limited"); got != 2 {
		t.Errorf("rate_limited calls counted = %d, want 2", got)
	}
	if got := f.calls(t, "chat.update", "ok"); got != 1 {
		t.Errorf("ok calls counted = %d, want 1", got)
	}
}

func TestPostMessageRetriesA429AndPostsOnce(t *testing.T) {
	f := newFixture(t, nil)
	f.fake.RateLimitNext("chat.postMessage", 1, 1)
	if _, err := f.client.PostMessage(ctxT(t), "C0ALERTS", slackapi.MsgOptionText("hello", false)); err != nil {
		t.Fatal(err)
	}
	if h := f.fake.History("C0ALERTS", ""); len(h) != 1 {
		t.Errorf("channel has %d messages, want 1", len(h))
	}
}

func TestPostMessageIsNotRetriedAfterA5xx(t *testing.T) {
	f := newFixture(t, nil)
	f.fake.FailNext("chat.postMessage", 1, slacktest.Fault{Status: http.StatusInternalServerError})
	_, err := f.client.PostMessage(ctxT(t), "C0ALERTS", slackapi.MsgOptionText("hello", false))
	var sc slackapi.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != 500 {
		t.Fatalf("got %v, want the 500", err)
	}
	if n := len(f.fake.Calls("chat.postMessage")); n != 1 {
		t.Errorf("chat.postMessage sent %d times, want 1: Slack may have posted it", n)
	}
}

// flakyTransport fails the first dial as a refused connection, or loses
// the first response after the server handled the request.
type flakyTransport struct {
	mu           sync.Mutex
	refuseDial   bool
	loseResponse bool
	base         http.RoundTripper
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	refuse, lose := f.refuseDial, f.loseResponse
	f.refuseDial, f.loseResponse = false, false
	f.mu.Unlock()
	if refuse {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	resp, err := f.base.RoundTrip(r)
	if lose && err == nil {
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: io.ErrUnexpectedEOF}
	}
	return resp, err
}

func TestPostMessageRetriesOnlyWhenNothingWasSent(t *testing.T) {
	tr := &flakyTransport{refuseDial: true, base: http.DefaultTransport}
	f := newFixture(t, &http.Client{Transport: tr})
	ctx := ctxT(t)
	if _, err := f.client.PostMessage(ctx, "C0ALERTS", slackapi.MsgOptionText("refused first", false)); err != nil {
		t.Fatalf("after a refused connection: %v", err)
	}
	tr.mu.Lock()
	tr.loseResponse = true
	tr.mu.Unlock()
	if _, err := f.client.PostMessage(ctx, "C0ALERTS", slackapi.MsgOptionText("answer lost", false)); err == nil {
		t.Fatal("a lost answer was retried: Slack had posted the message")
	}
	h := f.fake.History("C0ALERTS", "")
	if len(h) != 2 || h[0].Text != "refused first" || h[1].Text != "answer lost" {
		t.Errorf("channel = %+v, want each message once", h)
	}
	if got := f.calls(t, "chat.postMessage", "network_error"); got != 2 {
		t.Errorf("network_error calls counted = %d, want 2", got)
	}
}

func TestIdempotentCallsRetry5xxWithCappedBackoff(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	f.fake.FailNext("users.info", 2, slacktest.Fault{Status: http.StatusServiceUnavailable})
	email, err := f.client.Email(ctx, "U0ALICE")
	if err != nil || email != "alice@example.gov.uk" {
		t.Fatalf("Email = %q, %v", email, err)
	}
	if got := f.sleeps.got(); len(got) != 2 || got[0] != 250*time.Millisecond || got[1] != 500*time.Millisecond {
		t.Errorf("backoff = %v, want [250ms 500ms]", got)
	}

	f.fake.FailNext("usergroups.users.list", 100, slacktest.Fault{Status: http.StatusBadGateway})
	_, err = f.client.GroupMembers(ctx, "S0OPS")
	if err == nil || !strings.Contains(err.Error(), "gave up after 5 attempts") {
		t.Errorf("GroupMembers against a broken Slack: %v", err)
	}
	if got := f.sleeps.got()[2:]; len(got) != 4 || got[3] != 2*time.Second {
		t.Errorf("backoff = %v, want 4 waits doubling to 2s", got)
	}
}

func TestWaitingIsBoundedByTheContext(t *testing.T) {
	fake := slacktest.New(t)
	fake.AddChannel("C0ALERTS", "alerts", fake.BotUserID)
	client := slack.New(slack.Config{BotToken: fake.BotToken, APIURL: fake.URL()})
	fake.RateLimitNext("chat.postMessage", 1, 60)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.PostMessage(ctx, "C0ALERTS", slackapi.MsgOptionText("hi", false))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("returned after %v, want about 100ms", d)
	}
}

func TestRespondAnswersPrivatelyThroughTheResponseURL(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	d := f.fake.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", Text: "help", User: "U0ALICE", Channel: "C0ALERTS"})
	if err := f.client.Respond(ctx, d.ResponseURL, slack.Reply{Text: "usage"}); err != nil {
		t.Fatal(err)
	}
	got := d.Responses()
	if len(got) != 1 || got[0].ResponseType != "ephemeral" || got[0].Text != "usage" {
		t.Errorf("responses = %+v", got)
	}
	if got := f.calls(t, "response_url", "ok"); got != 1 {
		t.Errorf("response_url ok calls counted = %d, want 1", got)
	}
}
