package commands_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// TestDigestIgnoreWithAReasonAndUndo: through the real Socket Mode client
// on a real Redis, Mallory's Ignore… is refused and opens nothing; Alice's
// opens the modal, whose submission snoozes the group's pairs, edits the
// digest in place with who, until when and why, and audits it; the next
// day's sweep leaves the pairs out of their group and counts them; Undo
// brings them back. A submission replayed by someone who lost the role
// changes nothing.
func TestDigestIgnoreWithAReasonAndUndo(t *testing.T) {
	d := &commands.DigestPoster{Channels: map[string]string{flows.Production: ops}, Quiet: map[string]bool{}}
	w := newWorld(t, worldSetup{digest: d})
	d.Views, d.Edit, d.Snoozes, d.Audit, d.Clock = w.client, w.client, w.store, w.store, w.clock
	w.addExpiring("Short URL Manager", "short-url-manager@alphagov.co.uk", appName, 5)
	w.addExpiring("Search Admin", "search-admin@alphagov.co.uk", appName, 7)
	sched, err := daily.ParseSchedule("02:00")
	if err != nil {
		t.Fatal(err)
	}
	sweep := func(owner string) string {
		s, err := daily.New(daily.Config{Environment: flows.Production, Schedule: sched, Owner: owner},
			daily.Parts{Estate: w.signon, Store: w.store, Runs: w.store, Publisher: d, Ignores: w.store, Clock: w.clock})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Tick(w.ctx); !ok || err != nil {
			t.Fatalf("sweep: %v %v", ok, err)
		}
		// The digest is the newest message everyone sees: a private
		// answer to an earlier click may land after it.
		h := w.fake.History(ops, "")
		return h[len(h)-1].TS
	}
	digestTS := sweep("replica-1")
	m, _ := w.fake.Message(ops, digestTS, alice)
	if !strings.Contains(m.Text+string(m.BlocksJSON), "Rotate all 3") {
		t.Fatalf("the digest has no group of 3:\n%s", m.BlocksJSON)
	}

	if got := w.privateAnswer(w.click(mallory, ops, digestTS, "Ignore…")); !strings.Contains(got, "not among the configured starters") {
		t.Fatalf("mallory's Ignore… answered %q", got)
	}
	if n := len(w.fake.OpenViews(mallory)); n != 0 {
		t.Fatalf("mallory's click opened %d modals", n)
	}

	w.click(alice, ops, digestTS, "Ignore…")
	view := w.openForm(t, alice, blocks.DigestIgnoreCallbackID)
	until := w.clock.Now().AddDate(0, 0, 10).Format(time.DateOnly)
	// A day in the past is refused in the modal and changes nothing.
	if ack, err := w.fake.Submit(slacktest.ViewSubmission{User: alice, ViewID: view.ID, Values: ignoreValues("retired", w.clock.Now().Format(time.DateOnly))}).WaitAck(w.ctx); err != nil || !strings.Contains(string(ack.Payload), "after today") {
		t.Fatalf("a past day was acked %s (%v)", ack.Payload, err)
	}
	w.fake.Submit(slacktest.ViewSubmission{User: alice, ViewID: view.ID, Values: ignoreValues("<!channel> the consumers move to the new API on 10 Dec", until)})
	if err := waitUntil(w.ctx, func() bool {
		m, _ = w.fake.Message(ops, digestTS, alice)
		return strings.Contains(string(m.BlocksJSON), "ignored: 3")
	}); err != nil {
		t.Fatalf("the digest was not edited:\n%s", m.BlocksJSON)
	}
	body := string(m.BlocksJSON)
	if !strings.Contains(body, "Ignored by \\u003c@"+alice) || !strings.Contains(body, "the consumers move") || strings.Contains(body, "Rotate all") || strings.Contains(body, "\\u003c!channel") {
		t.Errorf("the edited digest:\n%s", body)
	}
	igs, err := w.store.Ignores(w.ctx, flows.Production, w.clock.Now())
	if err != nil || len(igs) != 3 {
		t.Fatalf("%d snoozes stored (%v), want 3", len(igs), err)
	}
	trail, err := w.store.AuditTrail(w.ctx, "digest-production-"+w.clock.Now().UTC().Format(time.DateOnly))
	if err != nil || len(trail) != 3 || trail[0].Actor != alice || trail[0].Action != "ignore" {
		t.Fatalf("audit %+v (%v), want alice's 3 ignores", trail, err)
	}

	// The next day's digest leaves the pairs out of their group.
	w.clock.Advance(24 * time.Hour)
	nextTS := sweep("replica-2")
	m, _ = w.fake.Message(ops, nextTS, alice)
	if body := string(m.BlocksJSON); !strings.Contains(body, "ignored: 3 (until") || strings.Contains(body, "Rotate all") {
		t.Fatalf("the next digest:\n%s", body)
	}

	w.click(alice, ops, nextTS, "Undo Ignore")
	if err := waitUntil(w.ctx, func() bool {
		igs, _ := w.store.Ignores(w.ctx, flows.Production, w.clock.Now())
		m, _ = w.fake.Message(ops, nextTS, alice)
		return len(igs) == 0 && strings.Contains(string(m.BlocksJSON), "Rotate all 3")
	}); err != nil {
		t.Fatalf("Undo left the snoozes, or the digest without its buttons:\n%s", m.BlocksJSON)
	}
	w.noPlaintext(w.fake.Transcript(ops, digestTS))
}

// TestDigestIgnoreFromTheHomeTab: a Home tab click has no response URL:
// Ignore… opens the form with the click's trigger, and once submitted
// the Home tab leaves the pairs out and counts them. A forged value is
// answered in a modal and snoozes nothing.
func TestDigestIgnoreFromTheHomeTab(t *testing.T) {
	d := &commands.DigestPoster{Channels: map[string]string{flows.Production: ops}, Quiet: map[string]bool{}}
	var home *commands.HomeTab
	w := newWorld(t, worldSetup{digest: d, register: func(w *world, r *commands.Router) {
		sched, _ := daily.ParseSchedule("02:00")
		home = &commands.HomeTab{Slack: w.client, Render: blocks.Renderer{WorkspaceURL: "https://slacktest.slack.com/"}, Envs: []string{flows.Production},
			Schedules: map[string]daily.Schedule{flows.Production: sched}, Reports: w.store, Runs: w.store, Clock: w.clock, Viewers: w.store,
			MayStart: w.engine.MayStart, Ignores: w.store}
		r.HomeOpened(home.Open)
	}})
	d.Views, d.Edit, d.Snoozes, d.Audit, d.Clock = w.client, w.client, w.store, w.store, w.clock
	sched, _ := daily.ParseSchedule("02:00")
	s, err := daily.New(daily.Config{Environment: flows.Production, Schedule: sched, Owner: "replica-1"},
		daily.Parts{Estate: w.signon, Store: w.store, Runs: w.store, Publisher: d, Ignores: w.store, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Tick(w.ctx); !ok || err != nil {
		t.Fatalf("sweep: %v %v", ok, err)
	}
	rep, err := daily.Last(w.ctx, w.store, flows.Production)
	if err != nil || rep == nil || len(rep.Groups()) != 1 {
		t.Fatalf("sweep %+v (%v), want one group", rep, err)
	}
	g := rep.Groups()[0]
	target := blocks.DigestTarget{Environment: flows.Production, Day: rep.Day, Why: g.Why}
	for _, p := range g.Pairs {
		target.Pairs = append(target.Pairs, blocks.DigestPair{User: p.User.ID, Application: p.Application.ID})
	}
	action := blocks.ActionDigestIgnore + ":home-" + string(g.Why)
	if tab := w.openHome(alice); !strings.Contains(tab, action) {
		t.Fatalf("Alice's Home tab has no %s:\n%s", action, tab)
	}

	forged := strings.Replace(blocks.DigestValue(target), rep.Day, "2026-11-01", 1)
	if got := w.clickHome(alice, action, forged); !strings.Contains(got, "not the latest one") {
		t.Errorf("a forged Home click answered %s", got)
	}

	if _, err := w.fake.ClickHome(slacktest.HomeAction{User: alice, ActionID: action}).WaitAck(w.ctx); err != nil {
		t.Fatal(err)
	}
	view := w.openForm(t, alice, blocks.DigestIgnoreCallbackID)
	w.fake.Submit(slacktest.ViewSubmission{User: alice, ViewID: view.ID, Values: ignoreValues("renewed by hand", w.clock.Now().AddDate(0, 0, 3).Format(time.DateOnly))})
	if err := waitUntil(w.ctx, func() bool {
		igs, _ := w.store.Ignores(w.ctx, flows.Production, w.clock.Now())
		return len(igs) == len(g.Pairs)
	}); err != nil {
		t.Fatalf("the Home tab's Ignore snoozed nothing")
	}
	if tab := w.openHome(alice); !strings.Contains(tab, fmt.Sprintf("ignored: %d (until", len(g.Pairs))) || strings.Contains(tab, action) {
		t.Errorf("the Home tab after the Ignore:\n%s", tab)
	}
}
