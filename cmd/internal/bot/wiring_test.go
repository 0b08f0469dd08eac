package bot

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/sandbox"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// TestServeRotatesFromAnAlert runs the whole bot as cmd/sandboxbot does,
// with its production environment in a sandbox and its integration
// environment unreachable (the sandbox does not serve it): an alert is
// rotated from its offer to the end, and the environment that cannot be
// reached is reported, not fatal.
func TestServeRotatesFromAnAlert(t *testing.T) {
	redis := redistest.New(t)
	fake := slacktest.New(t)
	for _, u := range []slacktest.User{
		{ID: "U0ALICE", Name: "alice", Email: "alice@digital.cabinet-office.gov.uk"},
		{ID: "U0BOB", Name: "bob", Email: "bob@digital.cabinet-office.gov.uk"},
	} {
		fake.AddUser(u)
	}
	fake.AddChannel("C0ALERTS", "alerts", "U0ALICE", "U0BOB", fake.BotUserID)

	// The bot runs on the wall clock; so must its world.
	clock := flows.SystemClock{}
	sig := signontest.New(clock)
	sig.AddAPIUser("Content Tagger", "content-tagger@alphagov.co.uk")
	sig.AddApplication("Publishing API")
	created := clock.Now().AddDate(-2, 0, 9)
	old, _ := sig.AddToken("content-tagger@alphagov.co.uk", "Publishing API", created, clock.Now().AddDate(0, 0, 9).Sub(created))
	sig.SetLastSynced("content-tagger@alphagov.co.uk", "Publishing API", clock.Now().Add(-time.Hour))
	cluster := &clustertest.Cluster{Tokens: sig, Clock: clock}
	cluster.AddDeployment("content-tagger", "app", "PUBLISHING_API_BEARER_TOKEN", cluster.AddSecret("Content Tagger", "Publishing API"))
	world := httptest.NewServer(&sandbox.Server{Envs: map[string]flows.Env{flows.Production: {Signon: sig, Cluster: cluster}}})
	t.Cleanup(world.Close)

	config := writeFile(t, `
alertChannels: [C0ALERTS]
alertSenders: [B0ALERTMANAGER]
environments:
  production:
    starters: {users: [U0ALICE, U0BOB]}
  integration:
    starters: {users: [U0ALICE, U0BOB]}
  staging:
    rotate: false
`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	logs, base := serveSandbox(ctx, t, fake, redis.Addr(), "wired", world.URL, config)
	ready := waitHTTP(t, base+"/readyz", 200)
	for !strings.Contains(ready, "environment production: ok") {
		ready = waitHTTP(t, base+"/readyz", 200)
	}
	if !strings.Contains(ready, "environment integration: unavailable: sandbox") || !strings.Contains(ready, "environment staging: not rotated") {
		t.Errorf("readyz:\n%s", ready)
	}

	// An alert for production, as Alertmanager posts it.
	fake.SendMessage(slacktest.AlertmanagerMessage("C0ALERTS", slackapi.Attachment{
		Title:     ":warning: WARNING: SignonApiUserTokenExpirySoon",
		TitleLink: "https://alertmanager.eks.production.govuk.digital/#/alerts",
		Fallback:  "[FIRING:1] SignonApiUserTokenExpirySoon (content-tagger@alphagov.co.uk publishing-api production monitoring/prometheus warning) | https://alertmanager.eks.production.govuk.digital/#/alerts",
		Fields:    []slackapi.AttachmentField{{Title: "Environment", Value: "Production", Short: true}},
	}))
	alertTS := fake.History("C0ALERTS", "")[0].TS
	press := func(user, text string) {
		t.Helper()
		for {
			for _, m := range fake.Thread("C0ALERTS", alertTS, user) {
				if b, ok := m.Button(text); ok {
					fake.Click(slacktest.BlockAction{User: user, Channel: "C0ALERTS", MessageTS: m.TS, ActionID: b.ActionID})
					return
				}
			}
			if _, err := fake.WaitCalls(ctx, "chat.postMessage", len(fake.Calls("chat.postMessage"))+1); err != nil {
				t.Fatalf("no %q button:\n%s", text, fake.Transcript("C0ALERTS", alertTS))
			}
		}
	}
	press("U0ALICE", "Rotate")
	press("U0ALICE", "Run sync")
	press("U0BOB", "Revoke old token")
	// The last replies may replace Bob's message through his click's
	// response_url rather than come as a new post: poll the thread.
	for tick := time.NewTicker(20 * time.Millisecond); !strings.Contains(fake.Transcript("C0ALERTS", alertTS), "Rotation complete"); {
		select {
		case <-ctx.Done():
			t.Fatalf("the rotation did not complete:\n%s", fake.Transcript("C0ALERTS", alertTS))
		case <-tick.C:
		}
	}
	story := fake.Transcript("C0ALERTS", alertTS)
	if !strings.Contains(story, "Confirmed by <@U0ALICE>") || !strings.Contains(story, "Confirmed by <@U0BOB>") {
		t.Errorf("thread:\n%s", story)
	}
	ts, err := sig.Tokens(ctx, "content-tagger@alphagov.co.uk", "Publishing API")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Tokens) != 2 || ts.Tokens[1].ID != old.ID || !ts.Tokens[1].Revoked() || ts.Tokens[0].Revoked() {
		t.Errorf("Signon holds %+v, want the old token revoked and one new live one", ts.Tokens)
	}
	for _, s := range sig.IssuedSecrets() {
		if strings.Contains(story, s.Reveal()) || strings.Contains(logs.String(), s.Reveal()) {
			t.Fatal("a token's plaintext is in the thread or the log")
		}
	}

	// The run ends just after its last post.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(httpBody(t, base+"/metrics"), "signon_token_bot_runs_seconds_count") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	metrics := httpBody(t, base+"/metrics")
	for _, want := range []string{
		`signon_token_bot_runs_seconds_count{environment="production",outcome="done"} 1`,
		`signon_token_bot_step_seconds_count{environment="production",result="ok",step="issue"} 1`,
		`signon_token_bot_gate_wait_seconds_count{environment="production",gate="sync"} 1`,
		`signon_token_bot_gate_wait_seconds_count{environment="production",gate="revoke"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
