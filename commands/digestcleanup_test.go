package commands_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// supersededWorld is the world after Signon's renewal and the nightly
// sync: its pair holds a superseded token, which the last sweep reported.
func supersededWorld(t *testing.T) (*world, flows.Token, *daily.Report) {
	t.Helper()
	w := newWorld(t, worldSetup{})
	ctx := w.ctx
	renewed, _ := w.signon.AddToken(userEmail, appName, w.clock.Now().Add(-8*time.Hour), 2*365*24*time.Hour)
	if _, err := w.cluster.WaitSync(ctx, w.cluster.StartScheduled(), w.secret, nil); err != nil {
		t.Fatal(err)
	}
	est, err := w.signon.Estate(ctx, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rep := daily.Build(daily.Config{Environment: flows.Production, Schedule: daily.Schedule{At: 7 * time.Hour}, Within: 30 * 24 * time.Hour, HomeWithin: 60 * 24 * time.Hour}, est, nil, w.clock.Now())
	if len(rep.Superseded()) != 1 {
		t.Fatalf("the sweep reports %d superseded pairs, want 1", len(rep.Superseded()))
	}
	raw, _ := json.Marshal(rep)
	if ok, err := w.store.ClaimSweep(ctx, flows.Production, "test", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := w.store.FinishSweep(ctx, flows.Production, "test", rep.Day, raw); err != nil {
		t.Fatal(err)
	}
	return w, renewed, rep
}

// The digest's Revoke superseded starts the clean-up of the group's
// pairs: a person with no role changes nothing; a starter's click starts
// one batch in the digest's thread, whose revoke question needs a second
// person in production and revokes the superseded token only.
func TestDigestRevokeSupersededStartsTheCleanup(t *testing.T) {
	w, renewed, rep := supersededWorld(t)
	ctx := w.ctx
	fake := &digestSlack{}
	d := &commands.DigestPoster{Slack: fake, Channels: map[string]string{flows.Production: ops}, Reports: w.store, Cleaner: w.engine,
		MayStart: func(ctx context.Context, env, user string) (bool, error) { return w.engine.MayStart(ctx, env, user) }}
	r := commands.NewRouter(commands.RouterConfig{Responder: fake})
	d.Register(r)
	p := rep.Superseded()[0]
	value := blocks.DigestValue(blocks.DigestTarget{Environment: flows.Production, Day: rep.Day, Why: blocks.WhySuperseded,
		Pairs: []blocks.DigestPair{{User: p.User.ID, Application: p.Application.ID}}})
	click := func(user string) string {
		r.HandleEnvelope(ctx, slack.Envelope{Interaction: &slackapi.InteractionCallback{Type: slackapi.InteractionTypeBlockActions,
			User: slackapi.User{ID: user}, ResponseURL: "https://hooks.slack.com/actions/T/1/x",
			ActionCallback: slackapi.ActionCallbacks{BlockActions: []*slackapi.BlockAction{{ActionID: blocks.ActionDigestRevoke + ":superseded", Value: value, ActionTs: user}}}}})
		return fake.last()
	}
	if got := click(mallory); !strings.Contains(got, "not among the configured starters") {
		t.Fatalf("mallory's click answered %q", got)
	}
	if runs, _ := w.engine.Active(ctx); len(runs) != 0 {
		t.Fatalf("mallory's click started %d runs", len(runs))
	}
	if got := click(alice); !strings.Contains(got, "Started the clean-up of 1 pair") {
		t.Fatalf("alice's click answered %q", got)
	}
	b := w.batchOf(t)
	b = w.waitBatch(t, b.ID, "the revoke question", func(b *flows.Batch) bool { return b.Gate != nil && b.Gate.Kind == flows.GateRevoke })
	if b.Thread.Channel != ops || !strings.HasPrefix(b.Posts[len(b.Posts)-1].Title, "Revoke 1 superseded token") {
		t.Fatalf("batch in %s asks %q", b.Thread.Channel, b.Posts[len(b.Posts)-1].Title)
	}
	if _, err := w.engine.ActBatch(ctx, flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: alice}); err == nil {
		t.Fatal("alice confirmed her own clean-up in production")
	}
	if _, err := w.engine.ActBatch(ctx, flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: bob}); err != nil {
		t.Fatal(err)
	}
	w.waitBatch(t, b.ID, "the clean-up to end", func(b *flows.Batch) bool { return b.Ended })
	ts, err := w.signon.Tokens(ctx, userEmail, appName)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range ts.Tokens {
		if revoked := tk.Revoked(); revoked != (tk.ID == w.old.ID) {
			t.Errorf("token #%d revoked %v; want only the superseded #%d revoked, the synced #%d kept", tk.ID, revoked, w.old.ID, renewed.ID)
		}
	}
	if len(ts.Tokens) != 2 {
		t.Errorf("%d tokens, want 2: a clean-up issues nothing", len(ts.Tokens))
	}
}

// The sweep's clean-up step starts one batch of the report's superseded
// pairs, which stops at the revoke question; a second sweep while it is
// under way starts nothing more.
func TestSweepCleanupStepStopsAtTheRevokeGate(t *testing.T) {
	w, _, rep := supersededWorld(t)
	step := &daily.Cleanup{Mode: flows.AutopilotToGates, Batches: w.engine, Channel: ops}
	if err := step.Act(w.ctx, rep); err != nil {
		t.Fatal(err)
	}
	b := w.batchOf(t)
	w.waitBatch(t, b.ID, "the revoke question", func(b *flows.Batch) bool {
		return b.Gate != nil && b.Gate.Kind == flows.GateRevoke && len(b.Covers) == 1
	})
	if err := step.Act(w.ctx, rep); err != nil {
		t.Fatalf("a second sweep: %v", err)
	}
	runs, err := w.engine.Active(w.ctx)
	if err != nil || len(runs) != 1 {
		t.Fatalf("%d runs under way (%v), want the one", len(runs), err)
	}
	if n := w.signon.TokenCount(userEmail, appName); n != 2 {
		t.Fatalf("%d tokens, want 2", n)
	}
	ts, _ := w.signon.Tokens(w.ctx, userEmail, appName)
	for _, tk := range ts.Tokens {
		if tk.Revoked() {
			t.Fatalf("token #%d revoked before anyone confirmed", tk.ID)
		}
	}
}
