package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
)

// TestHomeTabIsPublishedWhenOpened: opening the Home tab (app_home_opened
// through the real Socket Mode client) publishes the last sweep's estate
// from Redis with one views.publish; a person without a role gets the
// overview with no buttons; the fake holds the view to Slack's rules.
func TestHomeTabIsPublishedWhenOpened(t *testing.T) {
	store, _, _ := sweptStore(t, 40*24*time.Hour)
	sched, _ := daily.ParseSchedule("02:00")
	var home *commands.HomeTab
	h := newHarness(t, 2, func(h *harness) {
		home = &commands.HomeTab{Viewers: store, Slack: h.client, Render: blocks.Renderer{WorkspaceURL: "https://govuk.slack.com/"}, Envs: []string{"integration", "production"},
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

	// A burst of run changes refreshes both open tabs once.
	run := &flows.Run{ID: "r-home1", Key: flows.Key{Environment: "production", APIUser: "feed@partner.example.com", Application: "content-store"},
		Mode: flows.ModeRotate, Phase: flows.PhaseRunning, Step: flows.StepVerify, CreatedAt: flowstest.Start, UpdatedAt: flowstest.Start, Thread: flows.Thread{Channel: "C0ALERTS", TS: "1764147600.000100"}}
	if err := store.CreateRun(h.ctx, run); err != nil {
		t.Fatal(err)
	}
	go home.Run(h.ctx, 50*time.Millisecond)
	for range 5 {
		home.Changed()
	}
	if _, err := h.fake.WaitCalls(h.ctx, "views.publish", 4); err != nil {
		t.Fatal(err)
	}
	home.Changed()
	if _, err := h.fake.WaitCalls(h.ctx, "views.publish", 6); err != nil {
		t.Fatal(err)
	}
	if n := len(h.fake.Calls("views.publish")); n != 6 {
		t.Errorf("%d views.publish calls: the burst of five changes refreshed more than once", n)
	}
	for _, u := range []string{"U0ALICE", "U0BOB"} {
		if view, _ := h.fake.Home(u); !strings.Contains(string(view), "verify") {
			t.Errorf("%s's refreshed tab does not show the run under way", u)
		}
	}
}
