package flows_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
)

const approvers = "S0APPROVERS"

// pinging names the approvers' group and both people as whom production's
// gates ping.
func pinging(e *env) {
	p := e.policy.Environments[flows.Production]
	p.Ping = flows.Principals{Groups: []string{approvers}, Users: []string{alice, bob, "not-an-id"}}
	e.policy.Environments[flows.Production] = p
}

// Each question a run asks pings the people who can answer it, but not
// the run's starter, who is in the thread already; the hand-off asks its
// requester alone, who its own words name.
func TestGatesPingWhoCanAnswer(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	pinging(e)
	eng, _ := e.engine("replica-1", nil)

	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	want := "@{" + approvers + "} @{" + bob + "}"
	if got := gatePost(t, run).Ping; got != want {
		t.Errorf("the sync question pings %q, want %q", got, want)
	}
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate in the thread", func(r *flows.Run) bool { return atGate(flows.GateRevoke)(r) && published(r) })
	if got := gatePost(t, run).Ping; got != want {
		t.Errorf("the revoke question pings %q, want %q", got, want)
	}
	// The in-memory notifier may post a message twice; Slack's does not.
	if tr := e.notifier.Transcript(run.ID); strings.Count(tr, "ping "+want) < 2 {
		t.Errorf("the thread pings %d times, not on each question:\n%s", strings.Count(tr, "ping "+want), tr)
	}

	ext := newEnv(t, newWorld(t, setup{external: true}))
	pinging(ext)
	eng2, _ := ext.engine("replica-2", nil)
	run = start(t, eng2, flows.ModeRotate)
	run = waitFor(t, eng2, run.ID, "the hand-off", atGate(flows.GateHandoff))
	if p := gatePost(t, run); p.Ping != "" || !strings.Contains(strings.Join(p.Lines, "\n"), flows.Mention(alice)) {
		t.Errorf("the hand-off pings %q and says %q: want its requester named and nobody else pinged", p.Ping, p.Lines)
	}
}

// gatePost is the post that asks the run's open gate.
func gatePost(t *testing.T, run *flows.Run) flows.Post {
	t.Helper()
	for _, p := range run.Posts {
		if run.Gate != nil && p.Gate == run.Gate.ID {
			return p
		}
	}
	t.Fatalf("no post asks gate %v", run.Gate)
	return flows.Post{}
}

// reminders are the run's reminder posts.
func reminders(run *flows.Run) []flows.Post {
	var out []flows.Post
	for _, p := range run.Posts {
		if strings.HasPrefix(p.Title, "Reminder: ") {
			out = append(out, p)
		}
	}
	return out
}

// A question that expires is asked once more, at 80% of its time open,
// pinging the same people, with its buttons; sweeps after that, on any
// replica, add nothing.
func TestOneReminderBeforeAGateExpires(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	pinging(e)
	eng, _ := e.engine("replica-1", nil)
	ctx := context.Background()

	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	w.clock.Advance(3*time.Hour + 11*time.Minute) // 79.6% of 4h
	if err := eng.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if run, _ = eng.Get(ctx, run.ID); len(reminders(run)) != 0 {
		t.Fatalf("reminded before 80%% of the gate's time: %+v", reminders(run))
	}
	w.clock.Advance(time.Minute)
	other, _ := e.engine("replica-2", nil)
	for _, r := range []*flows.Engine{eng, other, eng} {
		if err := r.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	run = waitFor(t, eng, run.ID, "the reminder in the thread", func(r *flows.Run) bool { return len(reminders(r)) > 0 && published(r) })
	rs := reminders(run)
	if len(rs) != 1 {
		t.Fatalf("%d reminders, want 1: %+v", len(rs), rs)
	}
	r := rs[0]
	if r.Gate != run.Gate.ID || r.Ping != "@{"+approvers+"} @{"+bob+"}" || !strings.Contains(r.Title, "Run the token sync job in production?") {
		t.Errorf("the reminder %+v does not ask the open question of the same people", r)
	}
	if !strings.Contains(strings.Join(r.Lines, " "), "(in 48 minutes)") {
		t.Errorf("the reminder does not say when the question expires: %q", r.Lines)
	}
	if tr := e.notifier.Transcript(run.ID); strings.Count(tr, "Reminder: ") != 1 {
		t.Errorf("the thread has %d reminders:\n%s", strings.Count(tr, "Reminder: "), tr)
	}
	// Its buttons answer the question.
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
	if len(reminders(run)) != 1 {
		t.Errorf("the revoke question was reminded as it opened: %+v", reminders(run))
	}
}

// A reminder recorded while Slack is down is posted once Slack is back,
// by a restarted engine, and not recorded a second time.
func TestAReminderSurvivesACrashBeforeItIsPosted(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	pinging(e)
	slackDown := &flakyNotifier{Notifier: e.notifier}
	e.tune = func(c *flows.Config) { c.Notifier = slackDown }
	eng, stop := e.engine("replica-1", nil)
	ctx := context.Background()

	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate in the thread", func(r *flows.Run) bool {
		return atGate(flows.GateSync)(r) && published(r)
	})
	slackDown.down.Store(true)
	w.clock.Advance(3*time.Hour + 30*time.Minute)
	if err := eng.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	if run, _ = eng.Get(ctx, run.ID); len(reminders(run)) != 1 {
		t.Fatalf("the reminder was not recorded while Slack was down: %d", len(reminders(run)))
	}
	if strings.Contains(e.notifier.Transcript(run.ID), "Reminder: ") {
		t.Fatal("the reminder reached the thread while Slack was down")
	}

	slackDown.down.Store(false)
	eng, _ = e.engine("replica-1", nil) // its start-up sweep publishes
	run = waitFor(t, eng, run.ID, "the reminder in the thread", func(r *flows.Run) bool {
		return published(r)
	})
	if err := eng.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	run, _ = eng.Get(ctx, run.ID)
	if n, tr := len(reminders(run)), e.notifier.Transcript(run.ID); n != 1 || strings.Count(tr, "Reminder: ") != 1 {
		t.Errorf("%d reminders recorded, %d posted; want one of each:\n%s", n, strings.Count(tr, "Reminder: "), tr)
	}
}

// An expired question asked again is a new opening, with a reminder of
// its own; the waits of both openings are the run's, not its steps'.
func TestAskAgainRemindsAgain(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	ctx := context.Background()

	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	w.clock.Advance(3*time.Hour + 30*time.Minute)
	_ = eng.Sweep(ctx)
	w.clock.Advance(time.Hour)
	_ = eng.Sweep(ctx)
	run = waitFor(t, eng, run.ID, "the gate to expire", func(r *flows.Run) bool { return r.Gate != nil && r.Gate.Expired })
	run = mustAct(t, eng, run, flows.ActionReopen, bob)
	w.clock.Advance(3*time.Hour + 30*time.Minute)
	_ = eng.Sweep(ctx)
	run = waitFor(t, eng, run.ID, "the second reminder", func(r *flows.Run) bool { return len(reminders(r)) == 2 })
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	if run.Waited != 8*time.Hour {
		t.Errorf("the run waited %s by its record, want 8h", run.Waited)
	}
}

// flakyNotifier is Slack that can be down.
type flakyNotifier struct {
	*flowstest.Notifier
	down atomic.Bool
}

func (n *flakyNotifier) Sync(ctx context.Context, run *flows.Run) (map[string]flows.Receipt, error) {
	if n.down.Load() {
		return nil, errors.New("slack is down")
	}
	return n.Notifier.Sync(ctx, run)
}

// published: every post of the run is in its thread.
func published(r *flows.Run) bool {
	for _, p := range r.Posts {
		if _, ok := r.Receipts[p.ID]; !ok {
			return false
		}
	}
	return true
}
