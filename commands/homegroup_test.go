package commands_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// homeActionID is the action id of the first button on a published Home
// tab whose id starts with prefix.
func homeActionID(t *testing.T, tab, prefix string) string {
	t.Helper()
	m := regexp.MustCompile(`"action_id":"(` + regexp.QuoteMeta(prefix) + `[^"]*)"`).FindStringSubmatch(tab)
	if m == nil {
		t.Fatalf("the Home tab has no button %s…: %s", prefix, tab)
	}
	return m[1]
}

// batches are the ids of the batches the runs under way belong to.
func (w *world) batches() []string {
	w.t.Helper()
	runs, err := w.engine.Active(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		if r.Batch != "" && !slices.Contains(ids, r.Batch) {
			ids = append(ids, r.Batch)
		}
	}
	return ids
}

// TestHomeTabCleanUp: the Home tab's Clean up, clicked by a starter,
// starts one clean-up batch of that pair, in a new thread in the sweep's
// channel, and the modal names the batch; a person without a role, a
// forged value, and a pair with nothing superseded change nothing.
func TestHomeTabCleanUp(t *testing.T) {
	w, _ := homeWorld(t)
	rep, err := daily.Last(w.ctx, w.store, flows.Production)
	if err != nil || rep == nil || len(rep.Superseded()) != 1 {
		t.Fatalf("last sweep %+v (%v), want one superseded pair", rep, err)
	}
	sup := rep.Superseded()[0]
	tagger := rep.Pairs[slices.IndexFunc(rep.Pairs, func(p flows.EstatePair) bool { return p.User.Email == userEmail })]
	value := func(p flows.EstatePair) string {
		return "production|" + strconv.FormatInt(p.User.ID, 10) + "." + strconv.FormatInt(p.Application.ID, 10)
	}
	cleanUp := blocks.ActionHomeCleanUp + ":production:" + strconv.FormatInt(sup.User.ID, 10) + "." + strconv.FormatInt(sup.Application.ID, 10)
	digestTS := w.fake.History(ops, alice)[0].TS
	w.openHome(alice)
	w.openHome(mallory) // a tab published while she was a starter

	for _, c := range []struct{ who, user, value, want string }{
		{"a person without a role", mallory, "", "not among the configured starters"},
		{"a forged pair", alice, "production|999.999", "did not report that token"},
		{"a forged environment", alice, "staging|" + value(sup)[len("production|"):], "not made by the bot's Home tab"},
		{"a pair with nothing superseded", alice, value(tagger), "found no superseded token"},
	} {
		if got := w.clickHome(c.user, cleanUp, c.value); !strings.Contains(got, c.want) || !strings.Contains(got, "Nothing was done") {
			t.Errorf("%s: Clean up answered %s, want %q", c.who, got, c.want)
		}
	}
	if ids := w.batches(); len(ids) != 0 {
		t.Fatalf("refused clicks started batches %v", ids)
	}

	got := w.clickHome(alice, cleanUp, "")
	ids := w.batches()
	if len(ids) != 1 || !strings.Contains(got, "Started the clean-up of 1 pair") || !strings.Contains(got, ids[0]) {
		t.Fatalf("Alice's Clean up answered %s; batches %v, want one, named in the answer", got, ids)
	}
	b := w.waitBatch(t, ids[0], "its thread", func(b *flows.Batch) bool { return b.Thread.TS != "" })
	want := daily.PairKey(flows.Production, sup)
	if len(b.Members) != 1 || b.StartedBy != alice || b.Thread.Channel != ops || b.Thread.TS == "" || b.Thread.TS == digestTS {
		t.Errorf("batch %+v, want Alice's of one pair in a new thread in %s", b, ops)
	}
	if run, err := w.engine.Get(w.ctx, b.Members[0]); err != nil || run.Key != want {
		t.Errorf("the batch's run is of %+v (%v), want %+v", run.Key, err, want)
	}
	if w.signon.Calls(signon.OpRevoke) != 0 || w.signon.Calls(signon.OpIssue) != 0 {
		t.Error("the clean-up revoked or issued a token before anyone confirmed")
	}
}

// TestHomeTabGroupButtonsAnswerInAModal: the digest's group buttons on the
// Home tab, whose clicks carry no response URL, are answered in a modal
// opened with the click's trigger (which the fake Slack refuses after 3
// seconds), and act as the digest's do: Rotate all starts one batch,
// Revoke superseded one clean-up.
func TestHomeTabGroupButtonsAnswerInAModal(t *testing.T) {
	w, _ := homeWorld(t)
	tab := w.openHome(alice)
	before := len(w.fake.Calls("chat.postEphemeral"))

	got := w.clickHome(alice, homeActionID(t, tab, blocks.ActionDigestRotateAll+":"), "")
	if !strings.Contains(got, "Started 1 rotations") {
		t.Errorf("Rotate all answered %s", got)
	}
	got = w.clickHome(alice, homeActionID(t, tab, blocks.ActionDigestRevoke+":"), "")
	if !strings.Contains(got, "Started the clean-up of 1 pair") {
		t.Errorf("Revoke superseded answered %s", got)
	}
	if ids := w.batches(); len(ids) != 2 {
		t.Errorf("batches %v, want Rotate all's and the clean-up's", ids)
	}
	if n := len(w.fake.Calls("chat.postEphemeral")) - before; n != 0 {
		t.Errorf("%d ephemeral messages, want the modals only", n)
	}
	if strings.Contains(w.logs.String(), "handler failed") {
		t.Errorf("a handler failed:\n%s", w.logs)
	}
}

// TestHomeGroupClickWithNowhereToAnswer: a bot whose digest poster has no
// Views cannot answer a Home tab click, which has no response URL: the
// click fails in the log, naming why, and changes nothing.
func TestHomeGroupClickWithNowhereToAnswer(t *testing.T) {
	w, _ := homeWorld(t, func(d *commands.DigestPoster) { d.Views = nil })
	tab := w.openHome(alice)
	if _, err := w.fake.ClickHome(slacktest.HomeAction{User: alice, ActionID: homeActionID(t, tab, blocks.ActionDigestRevoke+":")}).WaitAck(w.ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitUntil(w.ctx, func() bool { return strings.Contains(w.logs.String(), "handler failed") }); err != nil {
		t.Fatalf("the click did not fail in the log: %v\n%s", err, w.logs)
	}
	if log := w.logs.String(); !strings.Contains(log, "no response URL") || !strings.Contains(log, "level=ERROR") {
		t.Errorf("the log does not say why at error level:\n%s", log)
	}
	if ids := w.batches(); len(ids) != 0 {
		t.Errorf("an unanswerable click started batches %v", ids)
	}
	if n := len(w.fake.Calls("views.open")); n != 0 {
		t.Errorf("%d modals opened", n)
	}
}
