package commands_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// homeWorld is the bot with its Home tab and a day's sweep of production
// recorded: Content Tagger's token expires in 9 days and two Deployments
// read it; Short URL Manager has a superseded token. rewire, if given,
// changes the digest poster's wiring before the bot runs.
func homeWorld(t *testing.T, rewire ...func(*commands.DigestPoster)) (*world, *commands.HomeTab) {
	t.Helper()
	var home *commands.HomeTab
	var poster *commands.DigestPoster
	w := newWorld(t, worldSetup{register: func(w *world, r *commands.Router) {
		sched, _ := daily.ParseSchedule("02:00")
		home = &commands.HomeTab{Slack: w.client, Render: blocks.Renderer{WorkspaceURL: "https://slacktest.slack.com/"}, Envs: []string{flows.Production},
			Schedules: map[string]daily.Schedule{flows.Production: sched}, Reports: w.store, Runs: w.store, Clock: w.clock, Viewers: w.store,
			// Mallory's tab was published while she was a starter: her
			// buttons are stale, and the click is checked again.
			MayStart: func(ctx context.Context, env, user string) (bool, error) {
				if user == mallory {
					return true, nil
				}
				return w.engine.MayStart(ctx, env, user)
			}}
		r.HomeOpened(home.Open)
		// Wired as serve wires them: the Home tab's group buttons are the
		// digest's, and its Clean up is the digest's clean-up of one pair.
		poster = &commands.DigestPoster{Slack: w.client, Channels: map[string]string{flows.Production: ops}, Quiet: map[string]bool{}, Reports: w.store,
			MayStart: w.engine.MayStart, Cleaner: w.engine, StartBatch: w.engine.StartBatch, Views: w.client}
		for _, f := range rewire {
			f(poster)
		}
		poster.Register(r)
		clicks := &commands.HomeClicks{Bot: w.bot, Reports: w.store, Channels: poster.Channels, CleanUp: poster.CleanUpPair}
		clicks.Register(r)
	}})
	now := w.clock.Now()
	w.signon.AddAPIUser("Short URL Manager", "short-url-manager@alphagov.co.uk")
	w.signon.AddToken("short-url-manager@alphagov.co.uk", appName, now.Add(-700*24*time.Hour), flows.TokenLife)
	w.signon.AddToken("short-url-manager@alphagov.co.uk", appName, now.Add(-8*time.Hour), flows.TokenLife)
	sched, _ := daily.ParseSchedule("02:00")
	s, err := daily.New(daily.Config{Environment: flows.Production, Schedule: sched, Owner: "replica-1"},
		daily.Parts{Estate: w.signon, Workloads: w.cluster, Store: w.store, Runs: w.store, Publisher: poster, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Tick(w.ctx); !ok || err != nil {
		t.Fatalf("sweep: %v %v", ok, err)
	}
	return w, home
}

// openHome opens user's Home tab and returns it once published.
func (w *world) openHome(user string) string {
	w.t.Helper()
	n := len(w.fake.Calls("views.publish"))
	if _, err := w.fake.OpenHome(user).WaitAck(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.fake.WaitCalls(w.ctx, "views.publish", n+1); err != nil {
		w.t.Fatal(err)
	}
	view, _ := w.fake.Home(user)
	return string(view)
}

// clickHome clicks a button of user's Home tab (value, if set, forged)
// and returns the text of the modal that answers it once it says more
// than that it is working.
func (w *world) clickHome(user, actionID, value string) string {
	w.t.Helper()
	seen := map[string]bool{}
	for _, v := range w.fake.OpenViews(user) {
		seen[v.ID] = true
	}
	if _, err := w.fake.ClickHome(slacktest.HomeAction{User: user, ActionID: actionID, Value: value}).WaitAck(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	var text string
	err := waitUntil(w.ctx, func() bool {
		for _, v := range w.fake.OpenViews(user) {
			if !seen[v.ID] && v.CallbackID == blocks.HomeAnswerCallbackID && !strings.Contains(string(v.Spec), "hourglass") {
				text = string(v.Spec)
				return true
			}
		}
		return false
	})
	if err != nil {
		w.t.Fatalf("no answer to %s's click on %s: %v", user, actionID, err)
	}
	return text
}

// TestHomeTabPerTokenButtons: the Home tab shows each token's consumers
// from the sweep, with no call to Signon or the cluster per view; a
// starter's Rotate starts the rotation /rotate-token would, its thread in
// the sweep's channel; a person without a role sees no buttons, and one
// whose stale tab still has them, or a forged value, changes nothing.
func TestHomeTabPerTokenButtons(t *testing.T) {
	w, _ := homeWorld(t)
	signonCalls := func() int {
		n := 0
		for _, op := range []signon.Op{signon.OpFindAPIUser, signon.OpTokens, signon.OpExpiring, signon.OpEstate, signon.OpIssue, signon.OpRevoke, signon.OpReveal} {
			n += w.signon.Calls(op)
		}
		return n
	}
	clusterCalls := func() int {
		return w.cluster.Calls("Consumers") + w.cluster.Calls("SecretReaders") + w.cluster.Calls("Secret")
	}
	before, beforeCluster := signonCalls(), clusterCalls()
	tab := w.openHome(alice)
	if !strings.Contains(tab, "Read by `deploy/content-tagger`, `deploy/draft-content-tagger`") {
		t.Errorf("Alice's Home tab does not name Content Tagger's consumers: %s", tab)
	}
	if n, c := signonCalls()-before, clusterCalls()-beforeCluster; n != 0 || c != 0 {
		t.Errorf("opening the Home tab made %d Signon and %d cluster calls, want none", n, c)
	}
	w.openHome(bob)

	rep, err := daily.Last(w.ctx, w.store, flows.Production)
	if err != nil || rep == nil {
		t.Fatal(rep, err)
	}
	tagger := rep.Pairs[slices.IndexFunc(rep.Pairs, func(p flows.EstatePair) bool { return p.User.Email == userEmail })]
	rotate := blocks.ActionHomeRotate + ":production:" + strconv.FormatInt(tagger.User.ID, 10) + "." + strconv.FormatInt(tagger.Application.ID, 10)
	runs := func() int {
		active, err := w.store.ActiveRuns(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(active)
	}

	t.Run("forged values change nothing", func(t *testing.T) {
		w := w.in(t)
		for value, want := range map[string]string{
			"production|999.999": "did not report that token",
			"staging|" + strconv.FormatInt(tagger.User.ID, 10) + "." + strconv.FormatInt(tagger.Application.ID, 10): "not made by the bot's Home tab",
			"production|1.1,2.2": "not made by the bot's Home tab",
			"<!channel>":         "not made by the bot's Home tab",
		} {
			if got := w.clickHome(alice, rotate, value); !strings.Contains(got, want) || !strings.Contains(got, "Nothing was done") {
				t.Errorf("a click with value %q answered %s, want %q", value, got, want)
			}
		}
		if n := runs(); n != 0 || w.signon.Calls(signon.OpIssue) != 0 {
			t.Errorf("forged clicks started %d runs, issued %d tokens", n, w.signon.Calls(signon.OpIssue))
		}
	})

	t.Run("no role, no buttons; a stale button is refused", func(t *testing.T) {
		w := w.in(t)
		real := &commands.HomeTab{Slack: w.client, Render: blocks.Renderer{}, Envs: []string{flows.Production}, Reports: w.store, Runs: w.store, Clock: w.clock, MayStart: w.engine.MayStart}
		if err := real.Open(w.ctx, mallory); err != nil {
			t.Fatal(err)
		}
		if tab, _ := w.fake.Home(mallory); strings.Contains(string(tab), `"button"`) || !strings.Contains(string(tab), "Content Tagger") {
			t.Errorf("Mallory, with no role, sees buttons or no overview: %s", tab)
		}
		w.openHome(mallory) // her stale tab, with buttons
		if got := w.clickHome(mallory, rotate, ""); !strings.Contains(got, "not among the configured starters") {
			t.Errorf("Mallory's Rotate answered %s", got)
		}
		if n := runs(); n != 0 {
			t.Errorf("Mallory's click started %d runs", n)
		}
	})

	t.Run("rotate", func(t *testing.T) {
		w := w.in(t)
		got := w.clickHome(alice, rotate, "")
		if !strings.Contains(got, "Started run") {
			t.Fatalf("Rotate answered %s", got)
		}
		active, _ := w.store.ActiveRuns(w.ctx)
		if len(active) != 1 || active[0].Key != (flows.Key{Environment: flows.Production, APIUser: userEmail, Application: appSlug}) || active[0].Thread.Channel != ops || active[0].StartedBy != alice {
			t.Fatalf("runs after Rotate: %+v, want one of Content Tagger's token by Alice in the sweep's channel", active)
		}
		run := w.waitRun(active[0].ID, "the sync gate", atGate(flows.GateSync))
		if run.Thread.TS == "" {
			t.Error("the run has no thread")
		}
		// A second click joins the run under way.
		if again := w.clickHome(bob, rotate, ""); !strings.Contains(again, active[0].ID) {
			t.Errorf("a second Rotate answered %s, want it to point to %s", again, active[0].ID)
		}
		if n := w.signon.Calls(signon.OpIssue); n != 1 {
			t.Errorf("%d tokens issued, want 1", n)
		}
	})
}
