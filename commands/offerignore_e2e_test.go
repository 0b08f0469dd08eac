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

// ignoreForm waits for user's Ignore modal.
func (w *world) ignoreForm(t *testing.T, user string) slacktest.View {
	t.Helper()
	return w.openForm(t, user, blocks.IgnoreCallbackID)
}

// openForm waits for user's modal of callbackID.
func (w *world) openForm(t *testing.T, user, callbackID string) slacktest.View {
	t.Helper()
	var view slacktest.View
	if err := waitUntil(w.ctx, func() bool {
		for _, v := range w.fake.OpenViews(user) {
			if v.CallbackID == callbackID {
				view = v
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("no %s modal open for %s", callbackID, user)
	}
	return view
}

// ignoreValues fills the Ignore modal: a reason, and a date or "" for
// until the alert resolves.
func ignoreValues(reason, date string) map[string]map[string]slackapi.BlockAction {
	v := map[string]map[string]slackapi.BlockAction{
		blocks.IgnoreReason: {blocks.IgnoreReason: {Type: "plain_text_input", Value: reason}},
		blocks.IgnoreFor:    {blocks.IgnoreFor: {Type: "radio_buttons", SelectedOption: slackapi.OptionBlockObject{Value: blocks.IgnoreUntilResolved}}},
	}
	if date != "" {
		v[blocks.IgnoreFor] = map[string]slackapi.BlockAction{blocks.IgnoreFor: {Type: "radio_buttons", SelectedOption: slackapi.OptionBlockObject{Value: blocks.IgnoreUntilDate}}}
		v[blocks.IgnoreDate] = map[string]slackapi.BlockAction{blocks.IgnoreDate: {Type: "datepicker", SelectedDate: date}}
	}
	return v
}

// waitOffer waits until the offer message's text holds want.
func (w *world) waitOffer(t *testing.T, ts, want string) slacktest.Message {
	t.Helper()
	var m slacktest.Message
	if err := waitUntil(w.ctx, func() bool {
		m, _ = w.fake.Message(alerts, ts, alice)
		return strings.Contains(string(m.BlocksJSON), want)
	}); err != nil {
		t.Fatalf("the offer never showed %q:\n%s", want, m.BlocksJSON)
	}
	return m
}

func (w *world) auditActions(t *testing.T, offerID string) []string {
	t.Helper()
	trail, err := w.store.AuditTrail(w.ctx, offerID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range trail {
		out = append(out, e.Actor+" "+e.Action)
	}
	return out
}

func TestIgnoreWithAReasonAndUndo(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1]

	if got := w.privateAnswer(w.click(mallory, alerts, offer.TS, "Ignore")); !strings.Contains(got, "You may not ignore this token") {
		t.Errorf("Mallory's Ignore: %q", got)
	}
	if v := w.fake.OpenViews(mallory); len(v) != 0 {
		t.Errorf("Mallory's refused Ignore opened %d modals", len(v))
	}

	w.click(alice, alerts, offer.TS, "Ignore")
	view := w.ignoreForm(t, alice)
	now := w.clock.Now()
	for _, tc := range []struct {
		name, reason, date, field string
	}{
		{"no reason", "   ", "", blocks.IgnoreReason},
		{"a reason too long", strings.Repeat("x", flows.MaxIgnoreReason+1), "", blocks.IgnoreReason},
		{"today", "retired", now.Format(time.DateOnly), blocks.IgnoreDate},
		{"yesterday", "retired", now.AddDate(0, 0, -1).Format(time.DateOnly), blocks.IgnoreDate},
		{"past 90 days", "retired", now.AddDate(0, 0, 91).Format(time.DateOnly), blocks.IgnoreDate},
	} {
		w.fake.Submit(slacktest.ViewSubmission{User: alice, ViewID: view.ID, Values: ignoreValues(tc.reason, tc.date)})
		var errs map[string]string
		if err := waitUntil(w.ctx, func() bool { errs = w.viewErrors(alice, view.ID); return len(errs) == 1 && errs[tc.field] != "" }); err != nil {
			t.Errorf("%s: the modal shows %v, want an error on %s", tc.name, errs, tc.field)
		}
		view = w.ignoreForm(t, alice)
	}
	if it := w.offerItem(t, alertTS); it.IgnoredBy != "" {
		t.Fatalf("a refused form ignored the token: %+v", it)
	}

	until := now.AddDate(0, 0, 10).Format(time.DateOnly)
	w.fake.Submit(slacktest.ViewSubmission{User: alice, ViewID: view.ID, Values: ignoreValues("<!channel> retired on <https://evil.example|1 Dec>", until)})
	m := w.waitOffer(t, offer.TS, "Ignored by \\u003c@U0ALICE\\u003e until")
	if _, ok := m.Button("Rotate"); ok || len(m.Buttons()) != 1 {
		t.Errorf("the ignored offer has buttons %+v, want Undo alone", m.Buttons())
	}
	w.waitThread(alerts, alertTS, 3)
	story := w.fake.Transcript(alerts, alertTS)
	wantInOrder(t, story, "[Undo]", "publishing-api (production): :zzz: Ignored by <@U0ALICE> until 6 Dec 2026:")
	if strings.Contains(story, "<!channel>") || strings.Contains(story, "<https://evil") || !strings.Contains(story, "&lt;!channel&gt; retired") {
		t.Errorf("the reason is not shown escaped:\n%s", story)
	}
	it := w.offerItem(t, alertTS)
	if it.IgnoredBy != alice || it.IgnoredUntil.Format(time.DateOnly) != until {
		t.Errorf("stored ignore %+v", it)
	}
	snoozes, err := w.store.Ignores(w.ctx, flows.Production, now)
	if err != nil || len(snoozes) != 1 {
		t.Errorf("snoozes %v (%v), want the token's", snoozes, err)
	}

	if got := w.privateAnswer(w.click(mallory, alerts, offer.TS, "Undo")); !strings.Contains(got, "You may not undo this Ignore") {
		t.Errorf("Mallory's Undo: %q", got)
	}
	w.click(bob, alerts, offer.TS, "Undo")
	m = w.waitButton(t, alerts, offer.TS, "Rotate")
	if _, ok := m.Button("Ignore"); !ok {
		t.Errorf("after Undo the offer has %+v", m.Buttons())
	}
	w.waitThread(alerts, alertTS, 4)
	wantInOrder(t, w.fake.Transcript(alerts, alertTS), "<@U0BOB> undid the Ignore")
	if snoozes, _ := w.store.Ignores(w.ctx, flows.Production, now); len(snoozes) != 0 {
		t.Errorf("the snooze outlived its Undo: %v", snoozes)
	}
	if got := strings.Join(w.auditActions(t, w.offerID(t, alertTS)), ", "); got != "U0ALICE ignore, U0BOB unignore" {
		t.Errorf("audit trail of the offer: %s", got)
	}
	w.noPlaintext(w.fake.Transcript(alerts, alertTS))
}

func (w *world) offerID(t *testing.T, alertTS string) string {
	t.Helper()
	o, err := w.store.OfferForAlert(w.ctx, alerts, alertTS)
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func TestSnoozeOutlivesItsAlertAndEndsAtItsDate(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1]
	w.click(alice, alerts, offer.TS, "Ignore")
	view := w.ignoreForm(t, alice)
	w.fake.Submit(slacktest.ViewSubmission{User: alice, ViewID: view.ID, Values: ignoreValues("renewed by hand next week", w.clock.Now().AddDate(0, 0, 3).Format(time.DateOnly))})
	w.waitOffer(t, offer.TS, "renewed by hand next week")

	resolved := alertmanager(commands.StatusResolved, 0, flows.Production, userEmail+" "+appSlug+" production monitoring/x warning", "")
	w.fake.SendMessage(slacktest.AlertmanagerMessage(alerts, resolved))
	w.waitOffer(t, offer.TS, "Alert resolved")

	// The alert fires again the next day: the snooze holds in the new offer.
	w.clock.Advance(24 * time.Hour)
	secondTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	second := w.fake.Thread(alerts, secondTS, "")[1]
	if _, ok := second.Button("Undo"); !ok || len(second.Buttons()) != 1 {
		t.Fatalf("the offer during the snooze has %+v, want Undo alone", second.Buttons())
	}
	if err := waitUntil(w.ctx, func() bool {
		o, err := w.store.OfferForAlert(w.ctx, alerts, secondTS)
		return err == nil && len(o.Messages) > 0
	}); err != nil {
		t.Fatal("the second offer never recorded its message")
	}

	// Past the date, the next alert gives the buttons back.
	w.clock.Advance(3 * 24 * time.Hour)
	w.sendAlert(1, alertAttachment(flows.Production))
	w.waitButton(t, alerts, second.TS, "Rotate")
}

func TestIgnoreSubmittedAfterTheAlertResolvedChangesNothing(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1]
	d := w.click(alice, alerts, offer.TS, "Ignore")
	view := w.ignoreForm(t, alice)

	resolved := alertmanager(commands.StatusResolved, 0, flows.Production, userEmail+" "+appSlug+" production monitoring/x warning", "")
	w.fake.SendMessage(slacktest.AlertmanagerMessage(alerts, resolved))
	w.waitOffer(t, offer.TS, "Alert resolved")

	w.fake.Submit(slacktest.ViewSubmission{User: alice, ViewID: view.ID, Values: ignoreValues("too late", "")})
	if got := w.privateAnswer(d); !strings.Contains(got, "This alert has resolved") {
		t.Errorf("the late submission was answered %q", got)
	}
	if it := w.offerItem(t, alertTS); it.IgnoredBy != "" {
		t.Errorf("a submission after the alert resolved ignored the token: %+v", it)
	}
	if got := w.auditActions(t, w.offerID(t, alertTS)); len(got) != 0 {
		t.Errorf("audit of a refused submission: %v", got)
	}
}
