package commands_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// notifierWorld is a Notifier on the real Slack client and the fake.
type notifierWorld struct {
	t        *testing.T
	fake     *slacktest.Server
	clock    *flowstest.Clock
	timer    *deferred
	notifier *commands.Notifier
}

func newNotifierWorld(t *testing.T) *notifierWorld {
	t.Helper()
	fake := slacktest.New(t)
	fake.AddChannel(ops, "ops", fake.BotUserID)
	client := slack.New(slack.Config{BotToken: fake.BotToken, AppToken: fake.AppToken, APIURL: fake.URL()})
	w := &notifierWorld{t: t, fake: fake, clock: &flowstest.Clock{}, timer: &deferred{}}
	w.notifier = commands.NewNotifier(commands.NotifierConfig{Slack: client, Render: blocks.Renderer{}, Clock: w.clock, Coalesce: 3 * time.Second, AfterFunc: w.timer.AfterFunc})
	t.Cleanup(w.notifier.Close)
	return w
}

// sync publishes the run as the engine does: it records the receipts.
func (w *notifierWorld) sync(run *flows.Run) map[string]flows.Receipt {
	w.t.Helper()
	got, err := w.notifier.Sync(context.Background(), run)
	if err != nil {
		w.t.Fatal(err)
	}
	if run.Receipts == nil {
		run.Receipts = map[string]flows.Receipt{}
	}
	for id, rc := range got {
		run.Receipts[id] = rc
		if id == flows.StatusPostID && run.Thread.TS == "" {
			run.Thread.TS = rc.TS
		}
	}
	return got
}

func (w *notifierWorld) calls() int { return len(w.fake.Calls("chat.postMessage", "chat.update")) }

func runningRun() *flows.Run {
	return &flows.Run{
		ID: "r-notifier", Key: flows.Key{Environment: flows.Production, APIUser: userEmail, Application: appSlug},
		Thread: flows.Thread{Channel: ops}, Phase: flows.PhaseRunning, Step: flows.StepInspect, StartedBy: alice,
		Steps: []flows.StepState{{Step: flows.StepInspect, Status: flows.StepRunning}, {Step: flows.StepIssue, Status: flows.StepPending}},
	}
}

func TestNotifierCoalescesARunningRun(t *testing.T) {
	w := newNotifierWorld(t)
	run := runningRun()
	if got := w.sync(run); len(got) != 1 || w.calls() != 1 {
		t.Fatalf("first sync: receipts %v after %d calls, want the status message posted", got, w.calls())
	}
	// The run moves on within the coalescing time: nothing is sent yet.
	run.Steps[0].Status, run.Steps[1].Status = flows.StepOK, flows.StepRunning
	run.Posts = append(run.Posts, flows.Post{ID: "00-inspect", Step: flows.StepInspect, Title: "Inspected"})
	w.clock.Advance(time.Second)
	if got := w.sync(run); len(got) != 0 || w.calls() != 1 {
		t.Fatalf("second sync: receipts %v after %d calls, want nothing sent", got, w.calls())
	}
	// The deferred flush sends both changes; the next sync records them.
	w.timer.fire()
	if n := w.calls(); n != 3 {
		t.Fatalf("after the deferred flush %d calls, want the post and the status edit (3)", n)
	}
	got := w.sync(run)
	if _, ok := got["00-inspect"]; !ok || got[flows.StatusPostID].Digest == "" {
		t.Errorf("receipts after the deferred flush: %v", got)
	}
	if w.calls() != 3 {
		t.Errorf("the sync after the deferred flush sent %d more calls", w.calls()-3)
	}
	// A run that waits at a gate is flushed at once.
	run.Phase = flows.PhaseWaiting
	run.Gate = &flows.Gate{ID: "gate1", Kind: flows.GateSync, Actions: []flows.Action{flows.ActionApprove}, Prompt: "Run the sync job now?"}
	run.Posts = append(run.Posts, flows.Post{ID: "01-sync", Step: flows.StepSync, Title: "Run the sync?", Gate: "gate1"})
	w.sync(run)
	if n := w.calls(); n != 5 {
		t.Errorf("a waiting run: %d calls, want the gate post and the status edit at once (5)", n)
	}
	// Nothing changed, nothing sent.
	w.clock.Advance(time.Hour)
	w.sync(run)
	if n := w.calls(); n != 5 {
		t.Errorf("an unchanged run cost %d more calls", n-5)
	}
}

func TestNotifierMergesPostsWithinBlockKitsLimits(t *testing.T) {
	w := newNotifierWorld(t)
	run := runningRun()
	run.Phase = flows.PhasePaused
	for i := range 40 {
		run.Posts = append(run.Posts, flows.Post{ID: fmt.Sprintf("%02d-inspect", i), Step: flows.StepInspect, Title: fmt.Sprintf("Post %d", i), Code: []string{"a log line"}})
	}
	got := w.sync(run)
	if len(got) != 41 {
		t.Fatalf("%d receipts, want the status and 40 posts", len(got))
	}
	posts := w.fake.Calls("chat.postMessage")
	// A post is 2 blocks and a divider: 17 fit in 50 blocks.
	if len(posts) != 4 {
		t.Errorf("%d messages for 40 posts, want the status and 3", len(posts))
	}
	for _, c := range posts {
		var b []json.RawMessage
		if err := json.Unmarshal([]byte(c.Args["blocks"]), &b); err != nil || len(b) > blocks.MaxBlocks {
			t.Errorf("a message has %d blocks (%v)", len(b), err)
		}
		if c.Args["thread_ts"] != "" && c.Args["thread_ts"] != run.Thread.TS {
			t.Errorf("a post went to thread %s, want the status message's %s", c.Args["thread_ts"], run.Thread.TS)
		}
	}
	if thread := w.fake.Thread(ops, run.Thread.TS, ""); len(thread) != 4 {
		t.Errorf("the thread has %d messages", len(thread))
	}
}
