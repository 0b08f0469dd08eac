package commands_test

import (
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// webAPICalls counts the Web API calls made since the fake started,
// leaving out the connection's own.
func (w *world) webAPICalls() (calls int, byMethod map[string]int) {
	byMethod = map[string]int{}
	for _, c := range w.fake.Calls() {
		if c.Method == "apps.connections.open" || c.Method == "auth.test" {
			continue
		}
		calls++
		byMethod[c.Method]++
	}
	return calls, byMethod
}

func TestAlertToRotation(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	thread := w.fake.Thread(alerts, alertTS, "")
	offer := thread[1]
	if !strings.Contains(offer.Text, "expiring") || len(offer.Buttons()) != 2 {
		t.Fatalf("offer %q has buttons %+v, want Rotate and Ignore", offer.Text, offer.Buttons())
	}

	d := w.click(alice, alerts, offer.TS, "Rotate")
	run := w.runOf(alertTS)
	if run.Thread != (flows.Thread{Channel: alerts, TS: alertTS}) || run.Origin.Kind != "alert" {
		t.Fatalf("run talks in %+v from %+v, want the alert's thread", run.Thread, run.Origin)
	}
	if _, err := d.WaitResponses(w.ctx, 1); err != nil {
		t.Fatal(err)
	}
	run = w.waitRun(run.ID, "the sync gate", atGate(flows.GateSync))
	if w.cluster.JobsCreated() != 0 {
		t.Fatal("synced before the confirmation")
	}
	w.click(alice, alerts, gateMessage(t, run), "Run sync")
	run = w.waitRun(run.ID, "the revoke gate", atGate(flows.GateRevoke))
	if w.token(w.old.ID).Revoked() {
		t.Fatal("old token revoked before its confirmation")
	}
	// Production wants a second person: Alice started the run.
	refused := w.privateAnswer(w.click(alice, alerts, gateMessage(t, run), "Revoke old token"))
	if !strings.Contains(refused, "You may not approve") || !strings.Contains(refused, "someone other than <@U0ALICE>") {
		t.Errorf("Alice's second confirmation: %q", refused)
	}
	w.click(bob, alerts, gateMessage(t, run), "Revoke old token")
	run = w.waitRun(run.ID, "the end", ended)
	if run.Phase != flows.PhaseDone || !w.token(w.old.ID).Revoked() || w.token(run.NewToken.ID).Revoked() {
		t.Fatalf("phase %s; want done, the old token revoked and the new one live", run.Phase)
	}

	story := w.fake.Transcript(alerts, alertTS)
	t.Logf("the thread:\n%s", story)
	wantInOrder(t, story,
		"Prometheus Alertmanager: The following alert is firing:",
		"signon-token-bot (edited): :key: *A Signon API token expires soon* in production.",
		"*Content Tagger* → *Publishing API*",
		"Rotation done, started by <@U0ALICE>",
		"signon-token-bot (edited): *:white_check_mark: Done:* Content Tagger → Publishing API (production)",
		":white_check_mark: Check the runbook's special cases",
		":white_check_mark: Revoke the old token",
		"*Inspected Content Tagger → Publishing API (production)*",
		":white_check_mark: *Issued a new token for Content Tagger → Publishing API (production)*",
		"*Run the token sync job in production?*",
		":white_check_mark: Confirmed by <@U0ALICE>",
		":white_check_mark: *Synced the token into Kubernetes*",
		":white_check_mark: *Verified: every consumer holds the new token*",
		"*Revoke the old token?*",
		":white_check_mark: Confirmed by <@U0BOB>",
		":white_check_mark: *Revoked the old token*",
		":white_check_mark: *Rotation complete: Content Tagger → Publishing API (production)*",
	)
	if strings.Contains(story, "[Rotate]") || strings.Contains(story, "[Run sync]") || strings.Contains(story, "[Revoke old token]") {
		t.Errorf("buttons left in the finished thread:\n%s", story)
	}
	w.noPlaintext(story)

	calls, byMethod := w.webAPICalls()
	t.Logf("Web API calls for the whole rotation: %d %v; response_url posts: %d (one a refusal)", calls, byMethod, w.responseURLPosts())
	if calls > 12 {
		t.Errorf("a rotation from the alert took %d Web API calls (%v), want at most 12", calls, byMethod)
	}
}

func TestGroupedAlertFindsItsTokensInSignon(t *testing.T) {
	w, alertTS, offer := groupedWorld(t)
	wantInOrder(t, w.fake.Transcript(alerts, alertTS),
		"*3 Signon API tokens expire soon* in production.", "[Rotate all 3]",
		"*Short URL Manager* → *Publishing API*", "(in 3 days)", "[Rotate] [Ignore]",
		"*Content Tagger* → *Publishing API*", "(in 9 days)", "[Rotate] [Ignore]",
		"*HMRC Bot* → *Whitehall*", "(in 12 days)", "[Rotate] [Ignore]")
	buttons := offer.Buttons()
	if len(buttons) != 7 {
		t.Fatalf("offer buttons %+v, want Rotate all, then Rotate and Ignore for each of 3 tokens", buttons)
	}
	// Mallory may not ignore; Bob may.
	ignore := func(user string) *slacktest.Delivery {
		return w.fake.Click(slacktest.BlockAction{User: user, Channel: alerts, MessageTS: offer.TS, ActionID: buttons[6].ActionID})
	}
	if got := w.privateAnswer(ignore(mallory)); !strings.Contains(got, "You may not ignore this token") {
		t.Errorf("Mallory's Ignore: %q", got)
	}
	ignore(bob)
	view := w.ignoreForm(t, bob)
	w.fake.Submit(slacktest.ViewSubmission{User: bob, ViewID: view.ID, Values: ignoreValues("HMRC rotates its own", "")})
	w.waitOffer(t, offer.TS, "HMRC rotates its own")
	w.fake.Click(slacktest.BlockAction{User: alice, Channel: alerts, MessageTS: offer.TS, ActionID: buttons[3].ActionID})
	run := w.runOf(alertTS)
	if run.Key.APIUser != userEmail {
		t.Fatalf("the second Rotate started %s", run.Key)
	}
	run = w.finish(alerts, run)
	if run.Phase != flows.PhaseDone {
		t.Fatalf("phase %s", run.Phase)
	}
	story := w.fake.Transcript(alerts, alertTS)
	wantInOrder(t, story,
		"*3 Signon API tokens expire soon* in production.",
		"*Short URL Manager* → *Publishing API*", "[Rotate] [Ignore]",
		"*Content Tagger* → *Publishing API*", "Rotation done, started by <@U0ALICE>",
		"*HMRC Bot* → *Whitehall*", ":zzz: Ignored by <@U0BOB> until the alert resolves: HMRC rotates its own", "[Undo]",
		":white_check_mark: *Rotation complete: Content Tagger → Publishing API (production)*")
	if got := w.signon.Calls("expiring"); got != 1 {
		t.Errorf("Signon's expiry report asked %d times, want 1", got)
	}
	w.noPlaintext(story)
}

func TestRotateTokenCommand(t *testing.T) {
	w := newWorld(t, worldSetup{})
	d := w.slash(alice, ops, userEmail+" "+appSlug)
	got := w.privateAnswer(d)
	if !strings.Contains(got, "Started run `r-") || !strings.Contains(got, "follow it in its thread") {
		t.Fatalf("answer %q", got)
	}
	runs, err := w.engine.Active(w.ctx)
	if err != nil || len(runs) != 1 {
		t.Fatalf("active runs %d (%v)", len(runs), err)
	}
	run := w.finish(ops, runs[0])
	status := run.Receipts[flows.StatusPostID].TS
	if run.Thread != (flows.Thread{Channel: ops, TS: status}) || run.Key.Environment != flows.Production {
		t.Fatalf("run thread %+v key %s, want a new root message in %s, production by default", run.Thread, run.Key, ops)
	}
	story := w.fake.Transcript(ops, status)
	wantInOrder(t, story,
		"signon-token-bot (edited): *:white_check_mark: Done:* Content Tagger → Publishing API (production)",
		"*Inspected Content Tagger → Publishing API (production)*",
		"*Run the token sync job in production?*", "Confirmed by <@U0ALICE>",
		"*Revoke the old token?*", "Confirmed by <@U0BOB>",
		":white_check_mark: *Rotation complete: Content Tagger → Publishing API (production)*")
	// The only thing posted in the channel itself is the status message;
	// Alice alone saw the bot say it was asking Signon.
	if roots := w.fake.History(ops, bob); len(roots) != 1 || roots[0].TS != status {
		t.Errorf("bob sees %d messages in the channel, want the status message", len(roots))
	}
	if mine := w.fake.History(ops, alice); len(mine) != 3 || !strings.Contains(mine[0].Text, "Asking Signon about") || mine[2].VisibleTo != alice {
		t.Errorf("alice sees %+v", mine)
	}
	w.noPlaintext(story)
}

func TestRotateTokenForm(t *testing.T) {
	w := newWorld(t, worldSetup{})
	d := w.slash(alice, ops, "")
	if _, err := w.fake.WaitCalls(w.ctx, "views.open", 1); err != nil {
		t.Fatal(err)
	}
	views := w.fake.OpenViews(alice)
	if len(views) != 1 || views[0].Title != "Rotate a token" {
		t.Fatalf("alice has %+v open", views)
	}
	if !strings.Contains(string(views[0].Spec), `"email_text_input"`) || !strings.Contains(string(views[0].Spec), `"initial_option":{"text":{"emoji":false,"text":"production","type":"plain_text"}`) {
		t.Errorf("the form does not check emails or default to production:\n%s", views[0].Spec)
	}
	w.fake.Submit(slacktest.ViewSubmission{User: alice, ViewID: views[0].ID, Values: map[string]map[string]slackapi.BlockAction{
		blocks.FormEnvironment: {blocks.FormEnvironment: {Type: "static_select", SelectedOption: slackapi.OptionBlockObject{Value: flows.Integration}}},
		blocks.FormAPIUser:     {blocks.FormAPIUser: {Type: "email_text_input", Value: " Content-Tagger@alphagov.co.uk "}},
		blocks.FormApplication: {blocks.FormApplication: {Type: "plain_text_input", Value: appSlug}},
	}})
	got := w.privateAnswer(d)
	if !strings.Contains(got, "Started run `r-") {
		t.Fatalf("answer %q", got)
	}
	runs, _ := w.engine.Active(w.ctx)
	if len(runs) != 1 || runs[0].Key != (flows.Key{Environment: flows.Integration, APIUser: userEmail, Application: appSlug}) {
		t.Fatalf("active runs %+v", runs)
	}
	run := w.finish(ops, runs[0])
	wantInOrder(t, w.fake.Transcript(ops, run.Thread.TS),
		"*:white_check_mark: Done:* Content Tagger → Publishing API (integration)",
		":white_check_mark: *Rotation complete: Content Tagger → Publishing API (integration)*")
	if len(w.fake.OpenViews(alice)) != 0 {
		t.Error("the form is still open")
	}
}

// TestRotateTokenFormMistake: a name typed as Signon shows it is refused
// beside its field with the name to use; the person fixes it in the same
// form, which then starts the run.
func TestRotateTokenFormMistake(t *testing.T) {
	w := newWorld(t, worldSetup{})
	d := w.slash(alice, ops, "")
	if _, err := w.fake.WaitCalls(w.ctx, "views.open", 1); err != nil {
		t.Fatal(err)
	}
	view := w.fake.OpenViews(alice)[0]
	values := func(app string) map[string]map[string]slackapi.BlockAction {
		return map[string]map[string]slackapi.BlockAction{
			blocks.FormEnvironment: {blocks.FormEnvironment: {Type: "static_select", SelectedOption: slackapi.OptionBlockObject{Value: flows.Integration}}},
			blocks.FormAPIUser:     {blocks.FormAPIUser: {Type: "email_text_input", Value: userEmail}},
			blocks.FormApplication: {blocks.FormApplication: {Type: "plain_text_input", Value: app}},
		}
	}
	first := w.fake.Submit(slacktest.ViewSubmission{User: alice, ViewID: view.ID, Values: values("Publishing API")})
	if _, err := first.WaitAck(w.ctx); err != nil {
		t.Fatal(err)
	}
	errs := w.viewErrors(alice, view.ID)
	if want := `"Publishing API" is not an application name like publishing-api. Did you mean publishing-api?`; errs[blocks.FormApplication] != want || len(errs) != 1 {
		t.Fatalf("errors in the modal %q, want %q beside the application", errs, want)
	}
	if runs, _ := w.engine.Active(w.ctx); len(runs) != 0 {
		t.Fatalf("a refused form started %d runs", len(runs))
	}

	// The same view, unchanged since, is submitted again with the fix.
	w.fake.Submit(slacktest.ViewSubmission{User: alice, ViewID: view.ID, Values: values(appSlug)})
	if got := w.privateAnswer(d); !strings.Contains(got, "Started run `r-") {
		t.Fatalf("answer %q", got)
	}
	if len(w.fake.OpenViews(alice)) != 0 {
		t.Error("the form is still open after a good submission")
	}
	runs, _ := w.engine.Active(w.ctx)
	if len(runs) != 1 || runs[0].Key.Application != appSlug {
		t.Fatalf("active runs %+v", runs)
	}
}

func TestRepeatedThenResolvedAlert(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offerTS := w.fake.Thread(alerts, alertTS, "")[1].TS
	// The offer records its message's ts just after posting it; the repeat
	// links to it from that record.
	if err := waitUntil(w.ctx, func() bool {
		o, err := w.store.OfferForAlert(w.ctx, alerts, alertTS)
		return err == nil && len(o.Messages) > 0
	}); err != nil {
		t.Fatal("the offer never recorded its message")
	}

	// The next day the alert fires again: the offer stands.
	w.clock.Advance(24 * time.Hour)
	againTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	wantInOrder(t, w.fake.Transcript(alerts, againTS),
		":repeat: The alert fired again for 1 token already in hand:",
		"• `content-tagger@alphagov.co.uk` → `publishing-api` (production): <https://slacktest.slack.com/archives/C0ALERTS/p"+strings.ReplaceAll(offerTS, ".", "")+"?thread_ts="+alertTS+"&cid=C0ALERTS|offered>")
	if n := len(w.fake.Thread(alerts, againTS, "")); n != 2 {
		t.Errorf("the repeated alert's thread has %d messages, want the alert and one reply", n)
	}

	resolved := alertmanager(commands.StatusResolved, 0, flows.Production, userEmail+" "+appSlug+" production monitoring/x warning", "")
	w.fake.SendMessage(slacktest.AlertmanagerMessage(alerts, resolved))
	var offer slacktest.Message
	if err := waitUntil(w.ctx, func() bool {
		offer, _ = w.fake.Message(alerts, offerTS, "")
		return strings.Contains(offer.Text+string(offer.BlocksJSON), "Alert resolved")
	}); err != nil {
		t.Fatalf("the offer was not resolved:\n%s", w.fake.Transcript(alerts, alertTS))
	}
	if len(offer.Buttons()) != 0 {
		t.Errorf("a resolved offer has buttons %+v", offer.Buttons())
	}
	wantInOrder(t, w.fake.Transcript(alerts, alertTS), ":large_green_circle: *Alert resolved* in production.", ":white_check_mark: No longer expiring soon.")

	// A new alert after the resolution is offered afresh.
	w.clock.Advance(24 * time.Hour)
	thirdTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	if third := w.fake.Thread(alerts, thirdTS, "")[1]; len(third.Buttons()) != 2 {
		t.Errorf("the alert after the resolution got %+v", third.Buttons())
	}
}

func TestGroupedResolvedAlertResolvesItsGroup(t *testing.T) {
	w := newWorld(t, worldSetup{})
	w.addExpiring("Short URL Manager", "short-url-manager@alphagov.co.uk", appName, 3)
	alertTS, _ := w.sendAlert(1, alertmanager(commands.StatusFiring, 2, flows.Production, "production x warning", ""))
	offerTS := w.fake.Thread(alerts, alertTS, "")[1].TS
	w.fake.SendMessage(slacktest.AlertmanagerMessage(alerts, alertmanager(commands.StatusResolved, 0, flows.Production, "production x warning", "")))
	if err := waitUntil(w.ctx, func() bool {
		m, _ := w.fake.Message(alerts, offerTS, "")
		return len(m.Buttons()) == 0
	}); err != nil {
		t.Fatalf("the grouped offer was not resolved:\n%s", w.fake.Transcript(alerts, alertTS))
	}
	wantInOrder(t, w.fake.Transcript(alerts, alertTS), "*Alert resolved* in production.",
		"*Short URL Manager*", "No longer expiring soon.", "*Content Tagger*", "No longer expiring soon.")
}

func TestStagingAlertIsExplained(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, d := w.sendAlert(1, alertAttachment(flows.Staging))
	thread := w.fake.Thread(alerts, alertTS, "")
	if !strings.Contains(w.fake.Transcript(alerts, alertTS), "Nothing to rotate in staging.* Staging's Signon database is restored from production") || len(thread[1].Buttons()) != 0 {
		t.Fatalf("staging answer:\n%s", w.fake.Transcript(alerts, alertTS))
	}
	if _, err := d.Redeliver().WaitAck(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.fake.SendMessage(slacktest.UserMessage(alerts, alice, "thanks"))
	if _, err := w.fake.WaitCalls(w.ctx, "chat.postMessage", 1); err != nil {
		t.Fatal(err)
	}
	if n := len(w.fake.Thread(alerts, alertTS, "")); n != 2 {
		t.Errorf("after a redelivery the thread has %d messages, want 2", n)
	}
}

func TestExternalHandOffWithReveal(t *testing.T) {
	w := newWorld(t, worldSetup{external: true})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	w.click(alice, alerts, w.fake.Thread(alerts, alertTS, "")[1].TS, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the hand-off", atGate(flows.GateHandoff))
	gate := gateMessage(t, run)

	// Bob may not see Alice's token: he is told privately, and no window
	// opens for him.
	if got := w.privateAnswer(w.click(bob, alerts, gate, "Reveal token")); !strings.Contains(got, "You may not reveal") {
		t.Fatalf("bob's answer: %q", got)
	}
	if v := w.fake.OpenViews(bob); len(v) != 0 {
		t.Fatalf("a window opened for bob, who may not reveal: %+v", v)
	}
	w.click(alice, alerts, gate, "Reveal token")
	secret, ok := w.signon.NewestUnrevoked(userName, appName)
	if !ok || secret.Fingerprint() != run.NewToken.Fingerprint {
		t.Fatal("Signon's newest token is not the run's")
	}
	if err := waitUntil(w.ctx, func() bool {
		v := w.fake.OpenViews(alice)
		return len(v) == 1 && strings.Contains(string(v[0].Spec), secret.Reveal())
	}); err != nil {
		t.Fatalf("alice's modal does not show the token: %+v", w.fake.OpenViews(alice))
	}
	// A second reveal shows the same token again, and the thread counts
	// both.
	first := w.fake.OpenViews(alice)[0].ID
	w.click(alice, alerts, gate, "Reveal token")
	if err := waitUntil(w.ctx, func() bool {
		v := w.fake.OpenViews(alice)
		return len(v) == 1 && v[0].ID != first && strings.Contains(string(v[0].Spec), secret.Reveal())
	}); err != nil {
		t.Fatalf("alice's second modal does not show the token: %+v", w.fake.OpenViews(alice))
	}
	if n := w.signon.TokenCount(userEmail, appName); n != 2 {
		t.Fatalf("revealing made tokens: Signon has %d, want 2", n)
	}
	// The thread's note of a reveal is posted after the modal opens: wait
	// for it, so that the delivery comes after it in the thread too.
	if err := waitUntil(w.ctx, func() bool {
		return strings.Contains(w.fake.Transcript(alerts, alertTS), "reveal 2 of this hand-off")
	}); err != nil {
		t.Fatal("the thread never noted the second reveal")
	}
	w.click(alice, alerts, gate, "Delivered")
	run = w.waitRun(run.ID, "the revoke gate", atGate(flows.GateRevoke))
	w.click(bob, alerts, gateMessage(t, run), "Revoke old token")
	run = w.waitRun(run.ID, "the end", ended)
	if run.Phase != flows.PhaseDone || !w.token(w.old.ID).Revoked() {
		t.Fatalf("phase %s", run.Phase)
	}
	story := w.fake.Transcript(alerts, alertTS)
	wantInOrder(t, story, "*Hand-off: the new token goes to a consumer outside the cluster*",
		"Delivery confirmed by <@U0ALICE>", "<@U0ALICE> saw the new token", "reveal 1 of this hand-off", "reveal 2 of this hand-off", "*Token delivered*",
		":white_check_mark: *Rotation complete")
	w.noPlaintext(story)
	for _, c := range w.fake.Calls("chat.postMessage", "chat.update", "chat.postEphemeral") {
		w.noPlaintext(c.Args["blocks"] + c.Args["text"])
	}
}
