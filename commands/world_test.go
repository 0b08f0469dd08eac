package commands_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// The people and places of the end-to-end tests. Alice and Bob may start
// runs and pass gates; Mallory is in the channel with no role.
const (
	alice     = "U0ALICE"
	bob       = "U0BOB"
	mallory   = "U0MALLORY"
	alerts    = "C0ALERTS"
	ops       = "C0OPS"
	elsewhere = "C0RANDOM"

	userEmail = "content-tagger@alphagov.co.uk"
	userName  = "Content Tagger"
	appName   = "Publishing API"
	appSlug   = "publishing-api"
	variable  = "PUBLISHING_API_BEARER_TOKEN"
)

// memGroups is an in-memory AlertGroups; cmd/internal/bot's Redis one is tested
// there.
type memGroups struct {
	mu     sync.Mutex
	groups map[string][]string
}

func (g *memGroups) Remember(_ context.Context, channel, env, id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.groups == nil {
		g.groups = map[string][]string{}
	}
	g.groups[channel+"/"+env] = append(g.groups[channel+"/"+env], id)
	return nil
}

func (g *memGroups) Take(_ context.Context, channel, env string) ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := g.groups[channel+"/"+env]
	delete(g.groups, channel+"/"+env)
	return ids, nil
}

// ignoredAlerts counts the alert-like messages the bot ignored, by reason.
type ignoredAlerts struct {
	mu sync.Mutex
	n  map[string]int
}

func (m *ignoredAlerts) AlertIgnored(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]int{}
	}
	m.n[reason]++
}

func (m *ignoredAlerts) count(reason string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[reason]
}

// lockedBuffer is a log sink tests read while the bot writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// deferred is the notifier's timer, fired only when a test says.
type deferred struct {
	mu sync.Mutex
	fs []func()
}

func (d *deferred) AfterFunc(_ time.Duration, f func()) func() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := len(d.fs)
	d.fs = append(d.fs, f)
	return func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		stopped := d.fs[i] != nil
		d.fs[i] = nil
		return stopped
	}
}

// fire runs the pending deferred flushes.
func (d *deferred) fire() {
	d.mu.Lock()
	fs := slices.Clone(d.fs)
	for i := range d.fs {
		d.fs[i] = nil
	}
	d.mu.Unlock()
	for _, f := range fs {
		if f != nil {
			f()
		}
	}
}

// world is the bot as it runs: the real slack-go client and Socket Mode
// runner against the fake Slack, the engine on a real redis-server, the
// Signon double and the cluster stand-in.
type world struct {
	t       *testing.T
	ctx     context.Context
	fake    *slacktest.Server
	client  *slack.Client
	clock   *flowstest.Clock
	signon  *signontest.Signon
	cluster *clustertest.Cluster
	redis   *redistest.Server
	store   *state.Store
	engine  *flows.Engine
	bot     *commands.Bot
	timer   *deferred
	// clicks are every click so far, for counting response_url posts.
	clicks []*slacktest.Delivery
	// ignored counts the alert-like messages the bot ignored.
	ignored *ignoredAlerts
	// logs holds what the bot logged at warning and above.
	logs   *lockedBuffer
	old    flows.Token
	secret string
}

// worldSetup varies the world.
type worldSetup struct {
	// external: no workload in the cluster reads the token.
	external bool
	// lastUsed is how long ago the application used the token (1h).
	lastUsed time.Duration
	// alertChannels are the bot's; alerts by default.
	alertChannels []string
	// alertSenders are the bot and app ids alerts come from: the fake's
	// Alertmanager webhook by default.
	alertSenders []string
	// workers run handlers: 4 by default.
	workers int
	// sleep, when set, is the Slack client's wait between retries, so
	// that a test can honour Retry-After without spending it.
	sleep func(ctx context.Context, d time.Duration) error
	// digest, when set, is wired to the engine and its buttons routed.
	digest *commands.DigestPoster
	// register, when set, routes more to the bot's router before it runs.
	register func(w *world, r *commands.Router)
}

func newWorld(t *testing.T, ws worldSetup) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	w := &world{t: t, ctx: ctx, clock: &flowstest.Clock{}, timer: &deferred{}, ignored: &ignoredAlerts{}, logs: &lockedBuffer{}}
	w.redis = redistest.New(t)
	st, err := state.New(w.redis.Client(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.store = st

	w.signon = signontest.New(w.clock)
	w.signon.AddHumanUser("Alice", "alice@digital.cabinet-office.gov.uk")
	w.signon.AddAPIUser(userName, userEmail)
	w.signon.AddApplication(appName)
	now := w.clock.Now()
	created := now.AddDate(-2, 0, 9)
	w.old, _ = w.signon.AddToken(userEmail, appName, created, now.AddDate(0, 0, 9).Sub(created))
	if ws.lastUsed == 0 {
		ws.lastUsed = time.Hour
	}
	w.signon.SetLastSynced(userEmail, appName, now.Add(-ws.lastUsed))
	w.cluster = &clustertest.Cluster{Tokens: w.signon, Clock: w.clock}
	w.secret = w.cluster.AddSecret(userName, appName)
	if !ws.external {
		w.cluster.AddDeployment("content-tagger", "app", variable, w.secret)
		w.cluster.AddDeployment("draft-content-tagger", "app", variable, w.secret)
	}

	w.fake = slacktest.New(t)
	w.fake.AddUser(slacktest.User{ID: alice, Name: "alice", Email: "alice@digital.cabinet-office.gov.uk"})
	w.fake.AddUser(slacktest.User{ID: bob, Name: "bob", Email: "bob@digital.cabinet-office.gov.uk"})
	w.fake.AddUser(slacktest.User{ID: mallory, Name: "mallory", Email: "mallory@example.com"})
	w.fake.AddChannel(alerts, "govuk-alerts", alice, bob, mallory, w.fake.BotUserID)
	w.fake.AddChannel(ops, "govuk-ops", alice, bob, mallory, w.fake.BotUserID)
	w.fake.AddChannel(elsewhere, "random", alice, bob, mallory)
	w.client = slack.New(slack.Config{BotToken: w.fake.BotToken, AppToken: w.fake.AppToken, APIURL: w.fake.URL(), Sleep: ws.sleep})

	log := slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), w.logs), &slog.HandlerOptions{Level: slog.LevelWarn}))
	render := blocks.Renderer{WorkspaceURL: "https://slacktest.slack.com/"}
	notifier := commands.NewNotifier(commands.NotifierConfig{
		Slack: w.client, Render: render, Offers: st, Runs: st, Clock: w.clock, Logger: log,
		Coalesce: time.Hour, AfterFunc: w.timer.AfterFunc,
	})
	t.Cleanup(notifier.Close)
	policy := flows.GOVUKPolicy()
	for _, name := range []string{flows.Integration, flows.Production} {
		e := policy.Environments[name]
		e.Starters = flows.Principals{Users: []string{alice, bob}}
		policy.Environments[name] = e
	}
	backends := flows.Env{Signon: w.signon, Cluster: w.cluster}
	eng, err := flows.New(flows.Config{
		Policy:    policy,
		Envs:      map[string]flows.Env{flows.Production: backends, flows.Integration: backends},
		Store:     st,
		Notifier:  notifier,
		Directory: &commands.CachedDirectory{Directory: w.client, Clock: w.clock},
		Revealer:  &commands.Revealer{Slack: w.client},
		Clock:     w.clock,
		Logger:    log,
		Owner:     "replica-1",
		LeaseTTL:  time.Minute, SweepEvery: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.engine = eng
	if ws.alertChannels == nil {
		ws.alertChannels = []string{alerts}
	}
	if ws.alertSenders == nil {
		ws.alertSenders = []string{slacktest.AlertmanagerBotID}
	}
	bot, err := commands.New(commands.Config{
		Engine: eng, Slack: w.client, Offers: st, Runs: st, Groups: &memGroups{}, Dedup: st, Render: render,
		AlertChannels: ws.alertChannels, AlertSenders: ws.alertSenders, Metrics: w.ignored, DefaultEnvironment: flows.Production, Clock: w.clock, Logger: log,
		AuditLimits: st.AuditLimits, Snoozes: st, Audit: st,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.bot = bot
	router := commands.NewRouter(commands.RouterConfig{Responder: w.client, Dedup: st, BotUserID: w.fake.BotUserID, BotID: w.fake.BotID, Logger: log})
	bot.Register(router)
	if d := ws.digest; d != nil {
		d.Slack, d.Render, d.Reports, d.MayStart, d.StartBatch, d.Logger = w.client, render, st, eng.MayStart, eng.StartBatch, log
		d.Register(router)
	}
	if ws.register != nil {
		ws.register(w, router)
	}
	if ws.workers == 0 {
		ws.workers = 4
	}
	runner := slack.NewRunner(w.client, router, slack.RunnerConfig{Workers: ws.workers, PingInterval: time.Second, Logger: log})

	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := eng.Run(runCtx); err != nil {
			t.Errorf("engine: %v", err)
		}
	})
	wg.Go(func() {
		if err := runner.Run(runCtx); err != nil {
			t.Errorf("runner: %v", err)
		}
	})
	t.Cleanup(func() { stop(); wg.Wait() })
	if err := w.fake.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return w
}

// alertAttachment is the alert for the world's token in env, as
// Alertmanager's Slack notifier posts it.
func alertAttachment(env string) slackapi.Attachment {
	return alertmanager(commands.StatusFiring, 1, env, userEmail+" "+appSlug+" "+env+" monitoring/kube-prometheus-stack-prometheus warning", "")
}

// sendAlert posts an alert and returns its ts once the bot has answered
// it in its thread (n replies).
func (w *world) sendAlert(replies int, a slackapi.Attachment) (string, *slacktest.Delivery) {
	w.t.Helper()
	d := w.fake.SendMessage(slacktest.AlertmanagerMessage(alerts, a))
	var ts string
	for _, m := range w.fake.History(alerts, "") {
		ts = m.TS
	}
	w.waitThread(alerts, ts, replies+1)
	return ts, d
}

// waitThread waits until the thread (channel, ts) has n messages anyone
// can see.
func (w *world) waitThread(channel, ts string, n int) []slacktest.Message {
	w.t.Helper()
	var got []slacktest.Message
	err := waitUntil(w.ctx, func() bool {
		got = w.fake.Thread(channel, ts, "")
		return len(got) >= n
	})
	if err != nil {
		w.t.Fatalf("thread %s has %d messages, want %d:\n%s", ts, len(got), n, w.fake.Transcript(channel, ts))
	}
	return got
}

// waitUntil polls cond: the fake has no waiter for the things these tests
// watch, and the engine's WaitFor covers only runs.
func waitUntil(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// click presses the button with the given text on a message, as user.
func (w *world) click(user, channel, ts, text string) *slacktest.Delivery {
	w.t.Helper()
	m, ok := w.fake.Message(channel, ts, user)
	if !ok {
		w.t.Fatalf("%s cannot see message %s", user, ts)
	}
	b, ok := m.Button(text)
	if !ok {
		w.t.Fatalf("message %s has no button %q: %+v", ts, text, m.Buttons())
	}
	d := w.fake.Click(slacktest.BlockAction{User: user, Channel: channel, MessageTS: ts, ActionID: b.ActionID})
	w.clicks = append(w.clicks, d)
	return d
}

// responseURLPosts counts the posts to the clicks' response_urls.
func (w *world) responseURLPosts() int {
	n := 0
	for _, d := range w.clicks {
		n += len(d.Responses())
	}
	return n
}

// answer waits for the one private answer to a delivery.
func (w *world) answer(d *slacktest.Delivery) slacktest.Response {
	w.t.Helper()
	got, err := d.WaitResponses(w.ctx, 1)
	if err != nil {
		w.t.Fatal(err)
	}
	return got[len(got)-1]
}

// privateAnswer waits for a private (non-replacing) answer to a delivery.
func (w *world) privateAnswer(d *slacktest.Delivery) string {
	w.t.Helper()
	var text string
	err := waitUntil(w.ctx, func() bool {
		for _, r := range d.Responses() {
			if !r.ReplaceOriginal && !r.DeleteOriginal {
				if r.ResponseType != "ephemeral" {
					w.t.Errorf("answer %q is %s, want ephemeral", r.Text, r.ResponseType)
				}
				text = r.Text
				return true
			}
		}
		return false
	})
	if err != nil {
		w.t.Fatalf("no private answer: %v", err)
	}
	return text
}

// runOf waits until the run started from an alert's offer is recorded.
func (w *world) runOf(alertTS string) *flows.Run {
	w.t.Helper()
	var id string
	err := waitUntil(w.ctx, func() bool {
		o, err := w.store.OfferForAlert(w.ctx, alerts, alertTS)
		if err != nil {
			return false
		}
		for _, it := range o.Items {
			if it.RunID != "" {
				id = it.RunID
				return true
			}
		}
		return false
	})
	if err != nil {
		w.t.Fatal("no run started from the offer")
	}
	return w.waitRun(id, "the run", func(*flows.Run) bool { return true })
}

// waitRun waits until the run satisfies cond and its thread shows it.
func (w *world) waitRun(id, what string, cond func(*flows.Run) bool) *flows.Run {
	w.t.Helper()
	run, err := w.engine.WaitFor(w.ctx, id, func(r *flows.Run) bool { return cond(r) && posted(r) })
	if err != nil {
		w.t.Fatalf("waiting for %s: %v", what, err)
	}
	return run
}

// posted: every post of the run is in Slack.
func posted(r *flows.Run) bool {
	if _, ok := r.Receipts[flows.StatusPostID]; !ok {
		return false
	}
	for _, p := range r.Posts {
		if _, ok := r.Receipts[p.ID]; !ok {
			return false
		}
	}
	return true
}

func atGate(kind flows.GateKind) func(*flows.Run) bool {
	return func(r *flows.Run) bool { return r.Phase != flows.PhaseRunning && r.Gate != nil && r.Gate.Kind == kind }
}

func ended(r *flows.Run) bool { return r.Ended() }

// gateMessage is the ts of the message that asks the run's open gate.
func gateMessage(t *testing.T, run *flows.Run) string {
	t.Helper()
	for _, p := range run.Posts {
		if run.Gate != nil && p.Gate == run.Gate.ID {
			return run.Receipts[p.ID].TS
		}
	}
	t.Fatalf("run %s has no open gate post", run.ID)
	return ""
}

// token returns the API user's token by id, as Signon has it now.
func (w *world) token(id int64) flows.Token {
	w.t.Helper()
	ts, err := w.signon.Tokens(w.ctx, userEmail, appName)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, tk := range ts.Tokens {
		if tk.ID == id {
			return tk
		}
	}
	w.t.Fatalf("no token %d", id)
	return flows.Token{}
}

// noPlaintext fails if any token the Signon double made is in text.
func (w *world) noPlaintext(text string) {
	w.t.Helper()
	for _, s := range w.signon.IssuedSecrets() {
		if strings.Contains(text, s.Reveal()) {
			w.t.Fatalf("a token's plaintext (fingerprint %s) is in:\n%s", s.Fingerprint(), text)
		}
	}
}

// wantInOrder checks that text holds each of want, in order.
func wantInOrder(t *testing.T, text string, want ...string) {
	t.Helper()
	rest := text
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("missing (in order) %q in:\n%s", w, text)
		}
		rest = rest[i+len(w):]
	}
}

// addExpiring adds an API user whose token for app expires in days,
// read by one Deployment.
func (w *world) addExpiring(name, email, app string, days int) flows.Token {
	w.t.Helper()
	w.signon.AddAPIUser(name, email)
	now := w.clock.Now()
	created := now.AddDate(-2, 0, days)
	tok, _ := w.signon.AddToken(email, app, created, now.AddDate(0, 0, days).Sub(created))
	w.signon.SetLastSynced(email, app, now.Add(-3*time.Hour))
	secret := w.cluster.AddSecret(name, app)
	w.cluster.AddDeployment(flows.Parameterize(name), "app", strings.ToUpper(strings.ReplaceAll(flows.Parameterize(app), "-", "_"))+"_BEARER_TOKEN", secret)
	return tok
}

// slash types /rotate-token text as user in channel.
func (w *world) slash(user, channel, text string) *slacktest.Delivery {
	w.t.Helper()
	return w.fake.SendSlashCommand(slacktest.SlashCommand{Command: commands.CommandName, Text: text, User: user, Channel: channel})
}

// finish passes a run's sync gate (as alice) and revoke gate (as bob).
func (w *world) finish(channel string, run *flows.Run) *flows.Run {
	w.t.Helper()
	run = w.waitRun(run.ID, "the sync gate", atGate(flows.GateSync))
	w.click(alice, channel, gateMessage(w.t, run), "Run sync")
	run = w.waitRun(run.ID, "the revoke gate", atGate(flows.GateRevoke))
	w.click(bob, channel, gateMessage(w.t, run), "Revoke old token")
	return w.waitRun(run.ID, "the end", ended)
}

// viewErrors returns the field errors user's modal shows, and fails the
// test if that modal has closed.
func (w *world) viewErrors(user, viewID string) map[string]string {
	w.t.Helper()
	for _, v := range w.fake.OpenViews(user) {
		if v.ID == viewID {
			return v.Errors
		}
	}
	w.t.Fatalf("%s's modal %s closed; a refused form stays open", user, viewID)
	return nil
}

// in is the world as a subtest sees it: its helpers fail t, not the
// parent test (whose FailNow from a subtest's goroutine would panic).
func (w *world) in(t *testing.T) *world {
	c := *w
	c.t = t
	return &c
}
