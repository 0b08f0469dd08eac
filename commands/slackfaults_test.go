package commands_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// Slack's faults during a rotation, through the real slack-go client and
// Socket Mode runner against the fake Slack: dropped WebSockets,
// disconnect envelopes, envelopes delivered again under their own id,
// double clicks, 429 storms and 5xx answers. Nothing may be done twice,
// and nothing the user should see may be lost.

// doneOnce checks a finished rotation of the world's token: one token
// issued, the old one revoked once, one sync Job, and the whole story in
// the thread.
func (w *world) doneOnce(run *flows.Run) {
	w.t.Helper()
	if run.Phase != flows.PhaseDone {
		w.t.Fatalf("run %s is %s (%s):\n%s", run.ID, run.Phase, run.Reason, w.fake.Transcript(run.Thread.Channel, run.Thread.TS))
	}
	if issue, revoke, jobs := w.signon.Calls("issue"), w.signon.Calls("revoke"), w.cluster.JobsCreated(); issue != 1 || revoke != 1 || jobs != 1 {
		w.t.Errorf("issue calls %d, revoke calls %d, sync Jobs %d; want 1 of each", issue, revoke, jobs)
	}
	if n := w.signon.TokenCount(userEmail, appName); n != 2 || !w.token(w.old.ID).Revoked() || w.token(run.NewToken.ID).Revoked() {
		w.t.Errorf("Signon has %d tokens; want the old one revoked and one new one live", n)
	}
	w.storyIntact(run)
}

// storyIntact reads the run's thread back from Slack: every post the run
// records is in a message of the bot's that everyone sees, and the bot
// posted no message twice (only the run's messages and its offer are
// there).
func (w *world) storyIntact(run *flows.Run) {
	w.t.Helper()
	shown := map[string]string{}
	bots := 0
	for _, m := range w.fake.Thread(run.Thread.Channel, run.Thread.TS, "") {
		if m.BotID == w.fake.BotID && m.VisibleTo == "" {
			shown[m.TS] = m.Text + string(m.BlocksJSON)
			bots++
		}
	}
	messages := map[string]bool{}
	for id, rc := range run.Receipts {
		if _, ok := shown[rc.TS]; !ok {
			w.t.Errorf("%s (message %s) is not in the thread", id, rc.TS)
		}
		messages[rc.TS] = true
	}
	for _, p := range run.Posts {
		rc, ok := run.Receipts[p.ID]
		if !ok {
			w.t.Errorf("post %s %q was never posted", p.ID, p.Title)
			continue
		}
		if !strings.Contains(shown[rc.TS], p.Title) {
			w.t.Errorf("post %s %q is not in message %s", p.ID, p.Title, rc.TS)
		}
	}
	if run.Origin.OfferID != "" {
		o, err := w.store.Offer(w.ctx, run.Origin.OfferID)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, ts := range o.Messages {
			messages[ts] = true
		}
	}
	if bots != len(messages) {
		w.t.Errorf("the thread has %d messages of the bot's, want %d (the run's and its offer's):\n%s", bots, len(messages), w.fake.Transcript(run.Thread.Channel, run.Thread.TS))
	}
}

func TestSocketDropsAndDisconnectsDuringARotation(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1].TS

	// Each click is sent as the connection dies: on it, to be delivered
	// again, or queued for the next one.
	w.fake.DropConnections()
	rotate := w.click(alice, alerts, offer, "Rotate")
	if err := w.fake.WaitConnected(w.ctx, 2); err != nil {
		t.Fatal(err)
	}
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))

	// Alice and Bob both press Run sync as Slack asks the bot to
	// reconnect: one press counts, the other is told it came too late.
	w.fake.Disconnect("refresh_requested")
	gate := gateMessage(t, run)
	sync, again := w.click(alice, alerts, gate, "Run sync"), w.click(bob, alerts, gate, "Run sync")
	if err := w.fake.WaitConnected(w.ctx, 3); err != nil {
		t.Fatal(err)
	}
	run = w.waitRun(run.ID, "the revoke gate", atGate(flows.GateRevoke))
	if got := w.eitherAnswer(sync, again); !strings.Contains(got, "answered already") {
		t.Errorf("the second Run sync: %q", got)
	}

	w.fake.DropConnections()
	revoke := w.click(bob, alerts, gateMessage(t, run), "Revoke old token")
	if err := w.fake.WaitConnected(w.ctx, 4); err != nil {
		t.Fatal(err)
	}
	run = w.waitRun(run.ID, "the end", ended)
	w.doneOnce(run)
	// Rotate's and Revoke's response_urls are used once more when the
	// run ends: the offer shows the outcome, the revoke question the last
	// replies (heldroutes.go).
	for d, want := range map[*slacktest.Delivery]int{rotate: 2, sync: 1, again: 1, revoke: 2} {
		if !d.Acked() {
			t.Errorf("envelope %s was never acked", d.EnvelopeID)
		}
		if n := len(d.Responses()); n > want {
			t.Errorf("a click was answered %d times, want %d", n, want)
		}
	}
	if len(run.Approvals) != 2 {
		t.Errorf("approvals %+v, want one sync and Bob's revoke", run.Approvals)
	}
}

func TestEnvelopesResentUnderTheirOwnIDTakeEffectOnce(t *testing.T) {
	// One worker handles envelopes in the order they come, so an answer
	// to a later command says the resent ones were handled.
	w := newWorld(t, worldSetup{workers: 1})
	resend := func(d *slacktest.Delivery) {
		t.Helper()
		if _, err := d.WaitAck(w.ctx); err != nil {
			t.Fatal(err)
		}
		d.Resend()
		ack, err := d.WaitAck(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ack.Attempt != 1 {
			t.Fatalf("envelope %s: the ack is of delivery %d, want the second", d.EnvelopeID, ack.Attempt)
		}
	}
	handled := func() {
		t.Helper()
		w.privateAnswer(w.slash(alice, ops, "help"))
	}

	alertTS, alert := w.sendAlert(1, alertAttachment(flows.Production))
	resend(alert)
	handled()
	if n := len(w.fake.Thread(alerts, alertTS, "")); n != 2 {
		t.Fatalf("after the alert came twice its thread has %d messages, want the alert and one offer", n)
	}
	offer := w.fake.Thread(alerts, alertTS, "")[1].TS
	rotate := w.click(alice, alerts, offer, "Rotate")
	resend(rotate)
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))
	sync := w.click(alice, alerts, gateMessage(t, run), "Run sync")
	resend(sync)
	run = w.waitRun(run.ID, "the revoke gate", atGate(flows.GateRevoke))
	revoke := w.click(bob, alerts, gateMessage(t, run), "Revoke old token")
	resend(revoke)
	run = w.waitRun(run.ID, "the end", ended)
	status := w.slash(alice, ops, "status "+run.ID)
	w.privateAnswer(status)
	resend(status)
	handled()

	w.doneOnce(run)
	if len(run.Approvals) != 2 {
		t.Errorf("approvals %+v, want one per gate", run.Approvals)
	}
	// Rotate's and Revoke's response_urls are used once more when the
	// run ends (heldroutes.go).
	for d, want := range map[*slacktest.Delivery]int{rotate: 2, sync: 1, revoke: 2, status: 1} {
		if n := len(d.Responses()); n > want {
			t.Errorf("envelope %s was answered %d times, want %d", d.EnvelopeID, n, want)
		}
	}
}

// retryWaits records the Slack client's waits between attempts instead
// of spending them.
type retryWaits struct {
	mu    sync.Mutex
	waits map[time.Duration]int
}

func (r *retryWaits) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waits == nil {
		r.waits = map[time.Duration]int{}
	}
	r.waits[d]++
	return ctx.Err()
}

func (r *retryWaits) count(d time.Duration) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waits[d]
}

func TestRateLimitStormsAndServerErrorsDuringARotation(t *testing.T) {
	waits := &retryWaits{}
	w := newWorld(t, worldSetup{sleep: waits.sleep})
	// The Retry-Afters differ from the client's own backoff (250ms
	// doubling), so that the waits tell which were honoured.
	const postAfter, updateAfter, usersAfter = 3, 5, 7
	w.fake.RateLimitNext("chat.postMessage", 8, postAfter)
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1].TS

	w.fake.RateLimitNext("users.info", 4, usersAfter)
	w.fake.RateLimitNext("chat.update", 9, updateAfter)
	w.fake.FailNext("chat.update", 2, slacktest.Fault{Status: 503})
	w.click(alice, alerts, offer, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))

	// A post that fails with a 5xx is not sent again at once (Slack may
	// have posted it): the next publish or sweep posts what has no
	// receipt.
	w.fake.FailNext("chat.postMessage", 1, slacktest.Fault{Status: 500})
	w.fake.RateLimitNext("chat.postMessage", 6, postAfter)
	w.click(alice, alerts, gateMessage(t, run), "Run sync")
	if _, err := w.engine.WaitFor(w.ctx, run.ID, atGate(flows.GateRevoke)); err != nil {
		t.Fatal(err)
	}
	if err := w.engine.Sweep(w.ctx); err != nil {
		t.Fatal(err)
	}
	run = w.waitRun(run.ID, "the revoke gate", atGate(flows.GateRevoke))

	w.fake.FailNext("chat.update", 3, slacktest.Fault{Status: 502})
	w.fake.RateLimitNext("chat.update", 10, updateAfter)
	w.click(bob, alerts, gateMessage(t, run), "Revoke old token")
	run = w.waitRun(run.ID, "the end", ended)

	w.doneOnce(run)
	if got, want := w.fake.Served429(""), 8+4+9+6+10; got != want {
		t.Errorf("429s served %d, want every one injected (%d)", got, want)
	}
	served5xx := 0
	for _, c := range w.fake.Calls() {
		if c.Status >= 500 {
			served5xx++
		}
	}
	if served5xx != 6 {
		t.Errorf("5xx served %d, want 6", served5xx)
	}
	for after, want := range map[time.Duration]int{postAfter * time.Second: 14, updateAfter * time.Second: 19, usersAfter * time.Second: 4} {
		if got := waits.count(after); got != want {
			t.Errorf("waits of %s: %d, want one per 429 with that Retry-After (%d)", after, got, want)
		}
	}
}

func TestSlackFailingAsARunEndsLeavesItFinishable(t *testing.T) {
	waits := &retryWaits{}
	w := newWorld(t, worldSetup{sleep: waits.sleep})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	w.click(alice, alerts, w.fake.Thread(alerts, alertTS, "")[1].TS, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))
	w.click(alice, alerts, gateMessage(t, run), "Run sync")
	run = w.waitRun(run.ID, "the revoke gate", atGate(flows.GateRevoke))
	w.fake.FailNext("chat.postMessage", 1, slacktest.Fault{Status: 500})
	w.click(bob, alerts, gateMessage(t, run), "Revoke old token")
	// The run records its end, but its last posts wait: it is neither
	// paused (nothing to decide) nor stranded.
	if _, err := w.engine.WaitFor(w.ctx, run.ID, func(r *flows.Run) bool { return r.EndAs == flows.PhaseDone || r.Ended() }); err != nil {
		t.Fatal(err)
	}
	// Slack is back: the next sweep brings the thread up to date.
	if err := w.engine.Sweep(w.ctx); err != nil {
		t.Fatal(err)
	}
	run = w.waitRun(run.ID, "the end", ended)
	w.doneOnce(run)
	if _, err := w.store.ActiveRun(w.ctx, run.Key); err == nil {
		t.Error("the finished run still holds its token's lock")
	}
}
