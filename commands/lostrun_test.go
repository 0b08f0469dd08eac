package commands_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// TestLostRunReportedInItsThread: Redis loses its data while a run waits
// at its sync gate, and the next sweep of the replica that knew the run
// says so in Slack, from what the engine kept of the run: the status
// message shows the run failed, with its checklist and why, and a reply
// says what Signon and the cluster show. The question keeps its buttons;
// a click on them is answered that the run is gone (TestClickOnALostRun).
func TestLostRunReportedInItsThread(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	w.click(alice, alerts, w.fake.Thread(alerts, alertTS, "")[1].TS, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))
	status, gate := run.Receipts[flows.StatusPostID].TS, gateMessage(t, run)
	w.redis.Flush()
	if err := w.engine.Sweep(w.ctx); err != nil {
		t.Fatal(err)
	}

	thread := w.fake.Thread(run.Thread.Channel, run.Thread.TS, "")
	byTS := map[string]slacktest.Message{}
	var report string
	for _, m := range thread {
		byTS[m.TS] = m
		w.noPlaintext(m.Text + string(m.BlocksJSON))
		if strings.Contains(string(m.BlocksJSON), "State lost: reconciled from Signon and the cluster") {
			report = string(m.BlocksJSON)
		}
	}
	for _, want := range []string{"Made during the run: token #" + itoa(int(run.NewToken.ID)), "Old: token #" + itoa(int(w.old.ID)), "holds fingerprint"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, w.fake.Transcript(run.Thread.Channel, run.Thread.TS))
		}
	}
	st := string(byTS[status].BlocksJSON)
	for _, want := range []string{"Failed:", "state store lost the run", "Issue a new token in Signon", "Sync tokens to Kubernetes", "Run `" + run.ID + "`"} {
		if !strings.Contains(st, want) {
			t.Errorf("the status message lacks %q:\n%s", want, st)
		}
	}
	if !strings.Contains(string(byTS[gate].BlocksJSON), "Run sync") {
		t.Errorf("the question lost its buttons:\n%s", byTS[gate].BlocksJSON)
	}
}

// TestLostRunReportedBySweptReplica: a replica that knows a run only from
// its sweeps (a restarted bot, or the other replica: sweeps read the
// runs' heads, not their records) reports the run's loss when Redis
// restarts empty, in the run's thread, through the real notifier to a
// Slack that refuses what Slack refuses: the status message says the run
// failed, and a reply says what Signon and the cluster show now.
func TestLostRunReportedBySweptReplica(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	w.click(alice, alerts, w.fake.Thread(alerts, alertTS, "")[1].TS, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))

	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	notifier := commands.NewNotifier(commands.NotifierConfig{
		Slack: w.client, Render: blocks.Renderer{WorkspaceURL: "https://slacktest.slack.com/"}, Offers: w.store, Runs: w.store,
		Clock: w.clock, Logger: log, Coalesce: time.Hour, AfterFunc: w.timer.AfterFunc,
	})
	t.Cleanup(notifier.Close)
	backends := flows.Env{Signon: w.signon, Cluster: w.cluster}
	other, err := flows.New(flows.Config{
		Policy: w.engine.Policy(), Envs: map[string]flows.Env{flows.Production: backends, flows.Integration: backends},
		Store: w.store, Notifier: notifier, Directory: &commands.CachedDirectory{Directory: w.client, Clock: w.clock},
		Clock: w.clock, Logger: log, Owner: "replica-2", LeaseTTL: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := other.Sweep(ctx); err != nil { // replica-2 learns of the run
		t.Fatal(err)
	}
	w.redis.Flush()
	calls := len(w.fake.Calls())
	if err := other.Sweep(ctx); err != nil {
		t.Fatal(err)
	}

	for _, c := range w.fake.Calls()[calls:] {
		if c.Error != "" {
			t.Errorf("%s refused: %s", c.Method, c.Error)
		}
	}
	thread := w.fake.Transcript(alerts, alertTS)
	report := thread[max(strings.LastIndex(thread, "State lost"), 0):]
	for _, want := range []string{"State lost: reconciled from Signon and the cluster", "Made during the run: token #", "Old: token #"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, thread)
		}
	}
	if status, ok := w.fake.Message(alerts, run.Receipts[flows.StatusPostID].TS, ""); !ok || !strings.Contains(status.Text, "Failed") {
		t.Errorf("the status message does not say the run failed: %+v", status)
	}
}

// TestLostBatchRunReportedInItsThread: Redis loses its data while a batch
// waits at its sync confirmation. A batch's runs post nothing of their
// own (the batch's status message shows them), but that message's record
// is gone with the rest: each run's report is a reply of its own in the
// batch's thread, saying what Signon and the cluster show.
func TestLostBatchRunReportedInItsThread(t *testing.T) {
	w, alertTS, offer := groupedWorld(t)
	w.click(alice, alerts, offer.TS, "Rotate all 3")
	b := w.waitBatch(t, w.batchOf(t).ID, "the batch's sync confirmation", batchGateOpen(flows.GateSync))
	before := len(w.fake.Thread(alerts, alertTS, ""))
	w.redis.Flush()
	if err := w.engine.Sweep(w.ctx); err != nil {
		t.Fatal(err)
	}

	thread := w.fake.Thread(alerts, alertTS, "")
	reports := 0
	for _, m := range thread[before:] {
		w.noPlaintext(m.Text + string(m.BlocksJSON))
		if strings.Contains(string(m.BlocksJSON), "State lost: reconciled from Signon and the cluster") {
			reports++
			if !strings.Contains(string(m.BlocksJSON), "Made during the run: token #") {
				t.Errorf("a report does not say which token the run made:\n%s", m.BlocksJSON)
			}
		}
	}
	if reports != len(b.Members) {
		t.Errorf("%d reports of lost runs in the batch's thread, want %d (one a run):\n%s", reports, len(b.Members), w.fake.Transcript(alerts, alertTS))
	}
}
