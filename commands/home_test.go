package commands_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// TestHomeTabIsPublishedWhenOpened: opening the Home tab (app_home_opened
// through the real Socket Mode client) publishes the last sweep's estate
// from Redis with one views.publish; a person without a role gets the
// overview with no buttons; the fake holds the view to Slack's rules.
func TestHomeTabIsPublishedWhenOpened(t *testing.T) {
	srv := redistest.New(t)
	store, err := state.New(srv.Client(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := flowstest.Start
	rep := &daily.Report{Environment: "production", Day: "2026-11-26", At: now, SignonNow: now, Within: 30 * 24 * time.Hour, HomeWithin: 60 * 24 * time.Hour,
		Pairs: []flows.EstatePair{{User: flows.APIUser{ID: 12, Name: "Partner Feed", Email: "feed@partner.example.com"}, Application: flows.Application{ID: 3, Name: "Content Store"},
			Synced: true, Token: flows.Token{ID: 40, ExpiresAt: now.Add(40 * 24 * time.Hour)}}},
		Whys: []daily.Why{daily.WhyExternal}}
	raw, _ := json.Marshal(rep)
	ctx := t.Context()
	if ok, err := store.ClaimSweep(ctx, "production", "test", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := store.FinishSweep(ctx, "production", "test", rep.Day, raw); err != nil {
		t.Fatal(err)
	}
	sched, _ := daily.ParseSchedule("02:00")
	h := newHarness(t, 2, func(h *harness) {
		home := &commands.HomeTab{Slack: h.client, Render: blocks.Renderer{WorkspaceURL: "https://govuk.slack.com/"}, Envs: []string{"integration", "production"},
			Schedules: map[string]daily.Schedule{"production": sched}, Reports: store, Runs: store, Clock: &flowstest.Clock{},
			MayStart: func(_ context.Context, env, user string) (bool, error) { return user == "U0ALICE", nil }}
		h.router.HomeOpened(home.Open)
	})
	for i, c := range []struct {
		user    string
		buttons bool
	}{{"U0ALICE", true}, {"U0BOB", false}} {
		if _, err := h.fake.OpenHome(c.user).WaitAck(h.ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := h.fake.WaitCalls(h.ctx, "views.publish", i+1); err != nil {
			t.Fatal(err)
		}
		view, ok := h.fake.Home(c.user)
		if !ok {
			t.Fatalf("no Home tab published for %s", c.user)
		}
		text := string(view)
		if !strings.Contains(text, "Partner Feed") || !strings.Contains(text, "next sweep 27 Nov 2026 02:00 UTC") || !strings.Contains(text, "No sweep yet") {
			t.Errorf("%s's Home tab lacks the estate or the sweeps: %s", c.user, text)
		}
		if got := strings.Contains(text, `"type":"button"`); got != c.buttons {
			t.Errorf("%s sees buttons: %v, want %v", c.user, got, c.buttons)
		}
	}
	if n := len(h.fake.Calls("views.publish")); n != 2 {
		t.Errorf("%d views.publish calls for two openings", n)
	}
}
