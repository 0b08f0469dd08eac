package bot

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/sandbox"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// TestServeWiresTheHomeTabsButtons runs the whole bot with a daily sweep
// and clicks the Home tab's buttons as Slack sends them (no response URL,
// a trigger): Clean up reaches the digest's clean-up (HomeClicks.CleanUp),
// Revoke superseded its Cleaner, Rotate all its StartBatch, and each is
// answered in a modal (the digest poster's Views).
func TestServeWiresTheHomeTabsButtons(t *testing.T) {
	redis := redistest.New(t)
	fake := slacktest.New(t)
	fake.AddUser(slacktest.User{ID: "U0ALICE", Name: "alice", Email: "alice@digital.cabinet-office.gov.uk"})
	fake.AddChannel("C0ALERTS", "alerts", "U0ALICE", fake.BotUserID)
	fake.AddChannel("C0OPS", "ops", "U0ALICE", fake.BotUserID)

	// The bot runs on the wall clock; so must its world. Content Tagger's
	// token expires in 9 days with no renewal; two pairs were renewed
	// yesterday and hold their old tokens still.
	clock := flows.SystemClock{}
	now := clock.Now()
	sig := signontest.New(clock)
	sig.AddApplication("Publishing API")
	sig.AddAPIUser("Content Tagger", "content-tagger@alphagov.co.uk")
	created := now.AddDate(-2, 0, 9)
	sig.AddToken("content-tagger@alphagov.co.uk", "Publishing API", created, now.AddDate(0, 0, 9).Sub(created))
	for _, u := range []string{"short-url-manager", "search-admin"} {
		sig.AddAPIUser(u, u+"@alphagov.co.uk")
		sig.AddToken(u+"@alphagov.co.uk", "Publishing API", now.AddDate(0, 0, -700), flows.TokenLife)
		sig.AddToken(u+"@alphagov.co.uk", "Publishing API", now.Add(-20*time.Hour), flows.TokenLife)
	}
	cluster := &clustertest.Cluster{Tokens: sig, Clock: clock}
	world := httptest.NewServer(&sandbox.Server{Envs: map[string]flows.Env{flows.Production: {Signon: sig, Cluster: cluster}}})
	t.Cleanup(world.Close)

	config := writeFile(t, `
alertChannels: [C0ALERTS]
alertSenders: [B0ALERTMANAGER]
environments:
  production:
    starters: {users: [U0ALICE]}
    autopilot: "off"
    sweep:
      channel: C0OPS
`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	logs, _ := serveSandbox(ctx, t, fake, redis.Addr(), "home", world.URL, config)

	// The sweep of the day, due at start, posts the digest and records
	// its report, which the Home tab is read from.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(logs.String(), `"msg":"daily sweep done"`) {
		select {
		case <-ctx.Done():
			t.Fatal("the sweep did not finish")
		case <-tick.C:
		}
	}
	if len(fake.History("C0OPS", "U0ALICE")) != 1 {
		t.Fatalf("the sweep's channel holds %d messages, want the digest", len(fake.History("C0OPS", "U0ALICE")))
	}
	if _, err := fake.OpenHome("U0ALICE").WaitAck(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := fake.WaitCalls(ctx, "views.publish", 1); err != nil {
		t.Fatal(err)
	}
	raw, _ := fake.Home("U0ALICE")
	tab := string(raw)
	button := func(prefix string) string {
		m := regexp.MustCompile(`"action_id":"(` + regexp.QuoteMeta(prefix) + `[^"]*)"`).FindStringSubmatch(tab)
		if m == nil {
			t.Fatalf("the Home tab has no button %s…: %s", prefix, tab)
		}
		return m[1]
	}
	click := func(actionID string) string {
		t.Helper()
		seen := map[string]bool{}
		for _, v := range fake.OpenViews("U0ALICE") {
			seen[v.ID] = true
		}
		if _, err := fake.ClickHome(slacktest.HomeAction{User: "U0ALICE", ActionID: actionID}).WaitAck(ctx); err != nil {
			t.Fatal(err)
		}
		for {
			for _, v := range fake.OpenViews("U0ALICE") {
				if !seen[v.ID] && v.CallbackID == blocks.HomeAnswerCallbackID && !strings.Contains(string(v.Spec), "hourglass") {
					return string(v.Spec)
				}
			}
			if _, err := fake.WaitCalls(ctx, "views.update", len(fake.Calls("views.update"))+1); err != nil {
				t.Fatalf("no modal answers the click on %s: %v", actionID, err)
			}
		}
	}

	for _, c := range []struct{ button, want string }{
		{blocks.ActionHomeCleanUp + ":", "Started the clean-up of 1 pair"},
		// One of its two pairs is under way after the Clean up.
		{blocks.ActionDigestRevoke + ":", "Started the clean-up of 1 pair"},
		{blocks.ActionDigestRotateAll + ":", "Started 1 rotations"},
	} {
		if got := click(button(c.button)); !strings.Contains(got, c.want) {
			t.Errorf("%s answered %s, want %q", c.button, got, c.want)
		}
	}
}
