package slacktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// clock is a hand-moved clock for the fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder stands in for the test as the fake's T, to check that the fake
// reports a violation without failing the test that provokes it on purpose.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

// take returns the violations reported since the last take.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

// expectViolation checks that exactly one violation mentioning want was
// reported.
func (r *recorder) expectViolation(t *testing.T, want string) {
	t.Helper()
	got := r.take()
	if len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("violations = %q, want one mentioning %q", got, want)
	}
}

// world is a fake workspace with a channel the bot is in, one it is not
// in, two people and a user group.
type world struct {
	s     *slacktest.Server
	clock *clock
	rec   *recorder
	api   *slack.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{clock: newClock(), rec: &recorder{TB: t}}
	w.s = &slacktest.Server{T: w.rec, Now: w.clock.Now}
	t.Cleanup(w.s.Close)
	t.Cleanup(func() {
		if v := w.rec.take(); len(v) > 0 {
			t.Errorf("unexpected violations: %q", v)
		}
	})
	w.s.AddUser(slacktest.User{ID: "U0ALICE", Name: "alice", Email: "alice@example.gov.uk"})
	w.s.AddUser(slacktest.User{ID: "U0BOB", Name: "bob", Email: "bob@example.gov.uk"})
	w.s.AddUserGroup("S0OPS", "U0ALICE", "U0BOB")
	w.s.AddChannel("C0ALERTS", "alerts", "U0ALICE", "U0BOB", w.s.BotUserID)
	w.s.AddChannel("C0OTHER", "other", "U0ALICE")
	w.api = slack.New(w.s.BotToken, slack.OptionAPIURL(w.s.URL()), slack.OptionAppLevelToken(w.s.AppToken))
	return w
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

func slackError(err error) string {
	if e, ok := err.(slack.SlackErrorResponse); ok {
		return e.Err
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
