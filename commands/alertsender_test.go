package commands_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// signonCalls is how many consoles the Signon double has run.
func (w *world) signonCalls() int {
	n := 0
	for _, op := range []signon.Op{signon.OpFindAPIUser, signon.OpTokens, signon.OpExpiring, signon.OpIssue, signon.OpRevoke} {
		n += w.signon.Calls(op)
	}
	return n
}

// waitIgnored waits until the bot has ignored n alert-like messages for
// their sender.
func (w *world) waitIgnored(n int) {
	w.t.Helper()
	if err := waitUntil(w.ctx, func() bool { return w.ignored.count(commands.IgnoredSender) >= n }); err != nil {
		w.t.Fatalf("ignored %d forged alerts, want %d", w.ignored.count(commands.IgnoredSender), n)
	}
}

// Anyone in the channel can post what looks like Alertmanager's message;
// only the configured sender's messages are alerts. A forgery gets no
// answer, costs no Signon call, and is counted.
func TestForgedAlertsAreIgnored(t *testing.T) {
	w := newWorld(t, worldSetup{})
	a := alertAttachment(flows.Production)
	forgeries := map[string]slacktest.MessageEvent{
		"a person's message": func() slacktest.MessageEvent {
			m := slacktest.UserMessage(alerts, mallory, "")
			m.Username = "Prometheus Alertmanager"
			m.Attachments = append(m.Attachments, a)
			return m
		}(),
		"another integration": func() slacktest.MessageEvent {
			m := slacktest.AlertmanagerMessage(alerts, a)
			m.BotID, m.AppID = "B0MALLORY", "A0MALLORY"
			return m
		}(),
	}
	n := 0
	for name, m := range forgeries {
		w.fake.SendMessage(m)
		n++
		w.waitIgnored(n)
		ts := w.fake.History(alerts, "")[len(w.fake.History(alerts, ""))-1].TS
		if got := w.fake.Thread(alerts, ts, ""); len(got) != 1 {
			t.Errorf("%s was answered:\n%s", name, w.fake.Transcript(alerts, ts))
		}
	}
	if c := w.signonCalls(); c != 0 {
		t.Errorf("forged alerts cost %d Signon calls", c)
	}
}

// An app whose id is configured counts, whatever its bot id.
func TestAlertSenderByAppID(t *testing.T) {
	w := newWorld(t, worldSetup{alertSenders: []string{"A0ALERTAPP"}})
	m := slacktest.AlertmanagerMessage(alerts, alertAttachment(flows.Production))
	m.BotID, m.AppID = "B0OTHER", "A0ALERTAPP"
	w.fake.SendMessage(m)
	ts := w.fake.History(alerts, "")[0].TS
	w.waitThread(alerts, ts, 2)
	if got := w.fake.Thread(alerts, ts, "")[1]; len(got.Buttons()) != 2 {
		t.Errorf("the app's alert got %+v, want an offer", got.Buttons())
	}
}

// A forged RESOLVED message used to strip the buttons from a genuine
// offer.
func TestForgedResolvedLeavesTheOffer(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offerTS := w.fake.Thread(alerts, alertTS, "")[1].TS
	resolved := alertmanager(commands.StatusResolved, 0, flows.Production, userEmail+" "+appSlug+" production monitoring/x warning", "")
	m := slacktest.UserMessage(alerts, mallory, "")
	m.Attachments = append(m.Attachments, resolved)
	w.fake.SendMessage(m)
	w.waitIgnored(1)
	offer, _ := w.fake.Message(alerts, offerTS, "")
	if len(offer.Buttons()) != 2 || strings.Contains(string(offer.BlocksJSON), "resolved") {
		t.Errorf("a forged resolved message changed the offer:\n%s", w.fake.Transcript(alerts, alertTS))
	}
}

// A repeated alert finds its offer in the state store and asks Signon
// nothing.
func TestRepeatedAlertAsksSignonNothing(t *testing.T) {
	w := newWorld(t, worldSetup{})
	w.sendAlert(1, alertAttachment(flows.Production))
	before := w.signonCalls()
	againTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	if !strings.Contains(w.fake.Transcript(alerts, againTS), "already in hand") {
		t.Fatalf("the repeated alert:\n%s", w.fake.Transcript(alerts, againTS))
	}
	if c := w.signonCalls() - before; c != 0 {
		t.Errorf("the repeated alert cost %d Signon calls, want 0", c)
	}
}

// An alert listing many tokens costs one expiry query, matched locally;
// a listed token Signon does not list as expiring says so.
func TestListedTokensCostOneQuery(t *testing.T) {
	w := newWorld(t, worldSetup{})
	w.signon.AddApplication("Whitehall")
	w.addExpiring("Short URL Manager", "short-url-manager@alphagov.co.uk", appName, 3)
	w.addExpiring("HMRC Bot", "hmrc-bot@example.gov.uk", "Whitehall", 12)
	list := "*Expiring Tokens*:\n"
	for _, tok := range [][2]string{{"short-url-manager@alphagov.co.uk", appSlug}, {userEmail, appSlug}, {"hmrc-bot@example.gov.uk", "whitehall"}, {"nobody@example.gov.uk", "whitehall"}} {
		list += "• api_user: `" + tok[0] + "`, application: `" + tok[1] + "`\n"
	}
	alertTS, _ := w.sendAlert(1, alertmanager(commands.StatusFiring, 4, flows.Production, "production monitoring/x warning", list))
	if got := w.signon.Calls(signon.OpExpiring); got != 1 {
		t.Errorf("%d expiry queries, want 1", got)
	}
	if got := w.signon.Calls(signon.OpTokens); got != 0 {
		t.Errorf("%d per-token lookups, want 0", got)
	}
	wantInOrder(t, w.fake.Transcript(alerts, alertTS),
		"*Short URL Manager* → *Publishing API*", "[Rotate] [Ignore]",
		"*Content Tagger* → *Publishing API*", "[Rotate] [Ignore]",
		"*HMRC Bot* → *Whitehall*", "[Rotate] [Ignore]",
		"nobody@example.gov.uk", "Signon has no unrevoked token of this API user for this application that expires within 14 days")
}
