package commands_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
)

// TestDigestRotateAllStartsABatch: the digest's Rotate all, pressed by
// someone with no role, is refused privately and starts nothing; pressed
// by Alice it starts one batch of the group's pairs in the digest's
// thread, whose sync and revoke confirmations follow the offer's rules.
func TestDigestRotateAllStartsABatch(t *testing.T) {
	d := &commands.DigestPoster{Channels: map[string]string{flows.Production: ops}, Quiet: map[string]bool{}}
	w := newWorld(t, worldSetup{digest: d})
	second := w.addExpiring("Short URL Manager", "short-url-manager@alphagov.co.uk", appName, 5)
	w.addExpiring("Search Admin", "search-admin@alphagov.co.uk", appName, 7)

	sched, err := daily.ParseSchedule("02:00")
	if err != nil {
		t.Fatal(err)
	}
	est, err := w.signon.Estate(w.ctx, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rep := daily.Build(daily.Config{Environment: flows.Production, Schedule: sched, Within: daily.DefaultWithin, HomeWithin: daily.DefaultHomeWithin}, est, nil, w.clock.Now())
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := w.store.ClaimSweep(w.ctx, flows.Production, "test", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := w.store.FinishSweep(w.ctx, flows.Production, "test", rep.Day, raw); err != nil {
		t.Fatal(err)
	}
	if err := d.Digest(w.ctx, rep); err != nil {
		t.Fatal(err)
	}
	history := w.fake.History(ops, alice)
	if len(history) != 1 {
		t.Fatalf("%d messages in the digest's channel, want the digest", len(history))
	}
	digestTS := history[0].TS

	if got := w.privateAnswer(w.click(mallory, ops, digestTS, "Rotate all 3")); !strings.Contains(got, "not among the configured starters") {
		t.Fatalf("mallory's click answered %q", got)
	}
	if runs, _ := w.engine.Active(w.ctx); len(runs) != 0 {
		t.Fatalf("mallory's click started %d runs", len(runs))
	}

	w.click(alice, ops, digestTS, "Rotate all 3")
	b := w.batchOf(t)
	if b.StartedBy != alice || b.Thread.Channel != ops || b.Thread.TS != digestTS {
		t.Fatalf("batch %+v, want alice's in the digest's thread", b)
	}
	b = w.waitBatch(t, b.ID, "the sync confirmation", batchGateOpen(flows.GateSync))
	b = w.passBatch(t, ops, b, 3)
	for _, id := range b.Members {
		run, err := w.engine.Get(w.ctx, id)
		if err != nil || run.Phase != flows.PhaseDone {
			t.Fatalf("run %s: %+v %v, want done", id, run, err)
		}
	}
	ts, err := w.signon.Tokens(w.ctx, "short-url-manager@alphagov.co.uk", appName)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range ts.Tokens {
		if tk.ID == second.ID && !tk.Revoked() {
			t.Error("the second pair's old token is not revoked")
		}
	}
	w.noPlaintext(w.fake.Transcript(ops, digestTS))
}
