package commands_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

// batchOf waits until the runs of a batch exist and returns the batch.
func (w *world) batchOf(t *testing.T) *flows.Batch {
	t.Helper()
	var id string
	err := waitUntil(w.ctx, func() bool {
		runs, err := w.engine.Active(w.ctx)
		if err != nil {
			return false
		}
		for _, r := range runs {
			if r.Batch != "" {
				id = r.Batch
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal("no batch started")
	}
	b, err := w.engine.GetBatch(w.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitBatch waits until the batch satisfies cond and its thread shows it.
func (w *world) waitBatch(t *testing.T, id, what string, cond func(*flows.Batch) bool) *flows.Batch {
	t.Helper()
	var b *flows.Batch
	err := waitUntil(w.ctx, func() bool {
		var err error
		b, err = w.engine.GetBatch(w.ctx, id)
		if err != nil || !cond(b) {
			return false
		}
		for _, p := range b.Posts {
			if _, ok := b.Receipts[p.ID]; !ok {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return b
}

func batchGateOpen(kind flows.GateKind) func(*flows.Batch) bool {
	return func(b *flows.Batch) bool { return b.Gate != nil && b.Gate.Kind == kind }
}

// gatePostTS is where the batch asks its open gate.
func gatePostTS(t *testing.T, b *flows.Batch) string {
	t.Helper()
	for _, p := range b.Posts {
		if b.Gate != nil && p.Gate == b.Gate.ID {
			return b.Receipts[p.ID].TS
		}
	}
	t.Fatal("the batch asks nothing")
	return ""
}

// passBatch passes a batch's sync gate as alice and revoke gate as bob,
// refusing alice's revoke as production's four eyes want.
func (w *world) passBatch(t *testing.T, channel string, b *flows.Batch, n int) *flows.Batch {
	t.Helper()
	b = w.waitBatch(t, b.ID, "the batch's sync confirmation", batchGateOpen(flows.GateSync))
	if got := len(b.Covers); got != n {
		t.Fatalf("the sync confirmation covers %d runs, want %d", got, n)
	}
	if w.cluster.JobsCreated() != 0 {
		t.Fatal("synced before the confirmation")
	}
	if got := w.privateAnswer(w.click(mallory, channel, gatePostTS(t, b), "Run sync for 3 tokens")); !strings.Contains(got, "You may not approve") {
		t.Errorf("Mallory's sync: %q", got)
	}
	w.click(alice, channel, gatePostTS(t, b), "Run sync for 3 tokens")
	b = w.waitBatch(t, b.ID, "the batch's revoke confirmation", batchGateOpen(flows.GateRevoke))
	if got := w.privateAnswer(w.click(alice, channel, gatePostTS(t, b), "Revoke 3 old tokens")); !strings.Contains(got, "someone other than <@U0ALICE>") {
		t.Errorf("Alice's revoke of her own batch: %q", got)
	}
	w.click(bob, channel, gatePostTS(t, b), "Revoke 3 old tokens")
	return w.waitBatch(t, b.ID, "the batch's end", func(b *flows.Batch) bool { return b.Ended })
}

func TestRotateAllFromAGroupedAlert(t *testing.T) {
	w, alertTS, offer := groupedWorld(t)
	before, _ := w.webAPICalls()

	d := w.click(alice, alerts, offer.TS, "Rotate all 3")
	b := w.batchOf(t)
	if b.Thread != (flows.Thread{Channel: alerts, TS: alertTS}) {
		t.Fatalf("the batch talks in %+v, want the alert's thread", b.Thread)
	}
	b = w.passBatch(t, alerts, b, 3)
	for _, id := range b.Members {
		run, err := w.engine.Get(w.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := w.signon.Tokens(w.ctx, run.Key.APIUser, run.ApplicationName)
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for _, tk := range ts.Tokens {
			if !tk.Revoked() {
				live++
				if tk.ID != run.NewToken.ID {
					t.Errorf("run %s: token #%d still live, want only the new #%d", run.Key, tk.ID, run.NewToken.ID)
				}
			}
		}
		if run.Phase != flows.PhaseDone || live != 1 {
			t.Errorf("run %s: %s with %d live tokens; want done and the new token alone live", run.Key, run.Phase, live)
		}
	}
	if len(d.Responses()) > 1 {
		t.Errorf("Rotate all was answered %d times", len(d.Responses()))
	}
	story := w.fake.Transcript(alerts, alertTS)
	t.Logf("the thread:\n%s", story)
	wantInOrder(t, story,
		"*3 Signon API tokens expire soon* in production.",
		"Rotation done, started by <@U0ALICE>",
		"Batch ended:* 3 of 3 rotations done in production",
		"Short URL Manager → Publishing API (production) · done · token #",
		"*Run the token sync job in production for 3 tokens?*",
		":white_check_mark: Confirmed by <@U0ALICE>",
		"*Revoke the old tokens of 3 verified rotations?*",
		":white_check_mark: Confirmed by <@U0BOB>",
		"Batch complete: 3 of 3 rotations done")
	if strings.Contains(story, "[Run sync") || strings.Contains(story, "[Revoke 3") || strings.Contains(story, "[Rotate all") {
		t.Errorf("buttons left in the finished thread:\n%s", story)
	}
	w.noPlaintext(story)
	if got := w.cluster.JobsCreated(); got != 1 {
		t.Errorf("sync Jobs created for the batch: %d, want exactly 1", got)
	}
	// The alert, the offer, the status, two confirmations and the summary.
	if got := len(w.fake.Thread(alerts, alertTS, "")); got != 6 {
		t.Errorf("the thread has %d messages, want 6", got)
	}
	calls, byMethod := w.webAPICalls()
	t.Logf("Web API calls for 3 tokens after the offer: %d %v", calls-before, byMethod)
	// Messages grow with the batch's steps, not its tokens: the status,
	// two confirmations and a summary, each edited a few times. (users.info
	// is the people's emails for Signon's log, cached per person.)
	if chat := byMethod["chat.postMessage"] + byMethod["chat.update"]; chat > 14 {
		t.Errorf("Rotate all for 3 tokens took %d chat calls (%v)", chat, byMethod)
	}
}

func TestRotateTokenWithSeveralPairs(t *testing.T) {
	w := newWorld(t, worldSetup{})
	w.signon.AddApplication("Whitehall")
	w.addExpiring("Short URL Manager", "short-url-manager@alphagov.co.uk", appName, 3)
	w.addExpiring("HMRC Bot", "hmrc-bot@example.gov.uk", "Whitehall", 12)
	// Bad input gets a private answer and starts nothing.
	for _, bad := range []string{
		userEmail + " " + appSlug + " not-an-email whitehall",
		userEmail + " " + appSlug + " hmrc-bot@example.gov.uk whitehall nowhere",
	} {
		got := w.privateAnswer(w.slash(alice, ops, bad))
		if !strings.Contains(got, ":warning:") {
			t.Errorf("%q answered %q", bad, got)
		}
	}
	if got := w.privateAnswer(w.slash(mallory, ops, userEmail+" "+appSlug+" hmrc-bot@example.gov.uk whitehall")); !strings.Contains(got, "You may not rotate") {
		t.Errorf("Mallory's batch: %q", got)
	}
	if runs, _ := w.engine.Active(w.ctx); len(runs) != 0 {
		t.Fatalf("bad commands started %d runs", len(runs))
	}

	got := w.privateAnswer(w.slash(alice, ops, userEmail+" "+appSlug+" short-url-manager@alphagov.co.uk "+appSlug+" hmrc-bot@example.gov.uk whitehall production"))
	if !strings.Contains(got, "Started batch `b-") || !strings.Contains(got, "3 rotations") {
		t.Fatalf("answer %q", got)
	}
	b := w.passBatch(t, ops, w.batchOf(t), 3)
	status := b.Receipts[flows.BatchStatusID].TS
	if b.Thread != (flows.Thread{Channel: ops, TS: status}) {
		t.Fatalf("batch thread %+v, want a new root message in %s", b.Thread, ops)
	}
	wantInOrder(t, w.fake.Transcript(ops, status), "Batch ended:* 3 of 3 rotations done in production", "Batch complete: 3 of 3 rotations done")

	// A filter: nothing left expires, so nothing starts.
	if got := w.privateAnswer(w.slash(alice, ops, "expiring production")); !strings.Contains(got, "no token to rotate") {
		t.Errorf("expiring after the batch: %q", got)
	}
}
