package commands_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// unchanged is what a refused request must leave alone: Signon, the
// cluster, the runs, and the channels but for private answers.
type unchanged struct {
	w       *world
	signon  string
	jobs    int
	public  map[string]int
	runs    int
	restart int
}

func (w *world) snapshot() unchanged {
	w.t.Helper()
	u := unchanged{w: w, signon: w.signon.Snapshot(), jobs: w.cluster.JobsCreated(), public: map[string]int{}, restart: w.cluster.Calls("RestartDeployment")}
	for _, ch := range []string{alerts, ops, elsewhere} {
		u.public[ch] = w.publicMessages(ch)
	}
	runs, err := w.engine.Active(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	u.runs = len(runs)
	return u
}

// publicMessages counts what everyone sees in a channel, threads too.
func (w *world) publicMessages(channel string) int {
	n := 0
	for _, root := range w.fake.History(channel, "") {
		n += len(w.fake.Thread(channel, root.TS, ""))
	}
	return n
}

func (u unchanged) check(what string) {
	u.w.t.Helper()
	after := u.w.snapshot()
	if after.signon != u.signon {
		u.w.t.Errorf("%s changed Signon:\n%s\n%s", what, u.signon, after.signon)
	}
	if after.jobs != u.jobs || after.restart != u.restart {
		u.w.t.Errorf("%s changed the cluster", what)
	}
	if after.runs != u.runs {
		u.w.t.Errorf("%s: %d active runs, want %d", what, after.runs, u.runs)
	}
	for ch, n := range u.public {
		if after.public[ch] != n {
			u.w.t.Errorf("%s: %d messages everyone sees in %s, want %d", what, after.public[ch], ch, n)
		}
	}
}

func TestMalformedSlashArguments(t *testing.T) {
	w := newWorld(t, worldSetup{})
	before := w.snapshot()
	for _, tc := range []struct {
		text, want string
	}{
		{userEmail, "to start a rotation, type `/rotate-token &lt;api-user-email&gt; &lt;application&gt; [environment]`"},
		{userEmail + " " + appSlug + " production extra", "to start a rotation, type"},
		{"content-tagger@ " + appSlug, `"content-tagger@" is not an email address`},
		{userEmail + " Publishing_API", `application "publishing_api" is not an application name like publishing-api`},
		{userEmail + " " + appSlug + " preview", `I do not know the environment "preview"; I know integration, production, staging`},
		{userEmail + " " + appSlug + " staging", "I will not rotate this token. Staging's Signon database is restored"},
		{"signon+permissions@alphagov.co.uk signon", "I will not rotate this token. This API user rotates its own token"},
		{"<!channel>@x.com " + appSlug, "&lt;!channel&gt;@x.com"},
		{userEmail + " <https://evil.example|docs>", "&lt;https://evil.example|docs&gt;"},
		{"nobody@alphagov.co.uk " + appSlug, "Signon has no API user with email nobody@alphagov.co.uk"},
		{userEmail + " no-such-app", "Signon has no application named no-such-app"},
		{"status", "type `/rotate-token status &lt;run&gt;` with a run id like `r-abcd1234`"},
		{"status <@U0BOB>", "type `/rotate-token status &lt;run&gt;`"},
		{"status r-doesnotexist", "There is no such run."},
		{"cancel r-doesnotexist", "There is no such run."},
		{"list everything", "`/rotate-token list` takes nothing after it"},
		{"<!here> now", "`&lt;!here&gt;` is not something `/rotate-token` knows"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			w := w.in(t)
			got := w.privateAnswer(w.slash(alice, ops, tc.text))
			if !strings.Contains(strings.ToLower(got), strings.ToLower(tc.want)) {
				t.Errorf("answer:\n%s\nwant it to contain %q", got, tc.want)
			}
			for _, bad := range []string{"<!channel>", "<!here>", "<https://evil", "<@U0BOB>"} {
				if strings.Contains(got, bad) {
					t.Errorf("answer echoes %q unescaped: %s", bad, got)
				}
			}
		})
	}
	before.check("malformed commands")
	if n := len(w.fake.Calls("chat.postMessage", "chat.update")); n != 0 {
		t.Errorf("malformed commands made %d posts", n)
	}
}

func TestCommandWhereTheBotIsNotAMember(t *testing.T) {
	w := newWorld(t, worldSetup{})
	before := w.snapshot()
	got := w.privateAnswer(w.slash(alice, elsewhere, userEmail+" "+appSlug))
	if !strings.Contains(got, "I cannot post in this conversation") {
		t.Errorf("answer %q", got)
	}
	before.check("a command where the bot cannot post")
}

func TestUnauthorisedClicksChangeNothing(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1].TS
	before := w.snapshot()
	// Mallory holds no role anywhere: refused before the offer is read.
	if got := w.privateAnswer(w.click(mallory, alerts, offer, "Rotate")); !strings.Contains(got, "You may not rotate tokens: you are not among the configured starters or approvers of any environment") {
		t.Errorf("Mallory's Rotate: %q", got)
	}
	if got := w.privateAnswer(w.click(mallory, alerts, offer, "Ignore")); !strings.Contains(got, "You may not ignore this token") {
		t.Errorf("Mallory's Ignore: %q", got)
	}
	if got := w.privateAnswer(w.slash(mallory, ops, userEmail+" "+appSlug)); !strings.Contains(got, "You may not rotate tokens in production") {
		t.Errorf("Mallory's command: %q", got)
	}
	before.check("Mallory's clicks on the offer")

	w.click(alice, alerts, offer, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))
	before = w.snapshot()
	gate := gateMessage(t, run)
	for _, button := range []string{"Run sync", "Roll back", "Cancel run"} {
		if got := w.privateAnswer(w.click(mallory, alerts, gate, button)); !strings.Contains(got, "You may not") {
			t.Errorf("Mallory's %s: %q", button, got)
		}
	}
	if got := w.privateAnswer(w.slash(mallory, ops, "cancel "+run.ID)); !strings.Contains(got, "You may not cancel") {
		t.Errorf("Mallory's cancel: %q", got)
	}
	before.check("Mallory's clicks on the gate")
	trail, err := w.engine.AuditTrail(w.ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, e := range trail {
		if e.Actor == mallory && e.Outcome == "denied" {
			denied++
		}
	}
	if denied != 4 {
		t.Errorf("audit trail has %d of Mallory's refusals, want 4: %+v", denied, trail)
	}
	if r, _ := w.engine.Get(w.ctx, run.ID); r.Phase != flows.PhaseWaiting || r.Gate.ID != run.Gate.ID {
		t.Errorf("after Mallory the run is %s at gate %v", r.Phase, r.Gate)
	}
}

func TestForgedButtonValues(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1]
	rotate, _ := offer.Button("Rotate")
	forge := func(ts, actionID, value, want string) {
		t.Helper()
		d := w.fake.Click(slacktest.BlockAction{User: alice, Channel: alerts, MessageTS: ts, ActionID: actionID, Value: value})
		if got := w.privateAnswer(d); !strings.Contains(strings.ToLower(got), strings.ToLower(want)) {
			t.Errorf("value %q: answer %q, want %q", value, got, want)
		}
	}
	before := w.snapshot()
	forge(offer.TS, rotate.ActionID, "o-x|<!channel>", "that button does not belong to this message")
	forge(offer.TS, rotate.ActionID, "o-aaaaaaaaaaaaaaaa|i-bbbbbbbbbbbbbbbb", "I no longer have that offer")
	forge(offer.TS, rotate.ActionID, strings.Split(rotate.Value, "|")[0]+"|i-bbbbbbbbbbbbbbbb", "that button does not belong to this message")
	before.check("forged offer clicks")

	w.click(alice, alerts, offer.TS, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))
	gate := gateMessage(t, run)
	gm, _ := w.fake.Message(alerts, gate, "")
	sync, _ := gm.Button("Run sync")
	before = w.snapshot()
	forge(gate, sync.ActionID, "r-1|<b>", "that button does not belong to this message")
	forge(gate, sync.ActionID, "r-aaaaaaaaaaaaaaaa|abcdefgh", "that button does not belong to this message")
	forge(gate, sync.ActionID, "r-aaaaaaaaaaaaaaaa|"+run.Gate.ID, "I no longer have run `r-aaaaaaaaaaaaaaaa`")
	forge(gate, sync.ActionID, run.ID+"|abcdefgh", "that button does not belong to this message")
	// The offer's value on a gate button names an offer, not a run.
	forge(gate, sync.ActionID, rotate.Value, "that button does not belong to this message")
	before.check("forged gate clicks")
}

func TestDoubleClicks(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1].TS
	first, second := w.click(alice, alerts, offer, "Rotate"), w.click(alice, alerts, offer, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))
	// One of the two started the run; the other was told where it is.
	if got := w.eitherAnswer(first, second); !strings.Contains(got, "already") {
		t.Errorf("double-click answer: %q", got)
	}
	if n := w.signon.Calls("issue"); n != 1 {
		t.Errorf("issue calls %d, want 1", n)
	}
	gate := gateMessage(t, run)
	a, b := w.click(alice, alerts, gate, "Run sync"), w.click(alice, alerts, gate, "Run sync")
	w.waitRun(run.ID, "the revoke gate", atGate(flows.GateRevoke))
	if got := w.eitherAnswer(a, b); !strings.Contains(got, "answered already") {
		t.Errorf("answer to the second Run sync: %q", got)
	}
	if n := w.cluster.JobsCreated(); n != 1 {
		t.Errorf("sync Jobs %d, want 1", n)
	}
}

// eitherAnswer waits for a private answer to one of two clicks.
func (w *world) eitherAnswer(a, b *slacktest.Delivery) string {
	w.t.Helper()
	var text string
	err := waitUntil(w.ctx, func() bool {
		for _, r := range append(a.Responses(), b.Responses()...) {
			if !r.ReplaceOriginal {
				text = r.Text
				return true
			}
		}
		return false
	})
	if err != nil {
		w.t.Fatalf("neither click was answered privately: %v", err)
	}
	return text
}

func TestRedeliveredEnvelopes(t *testing.T) {
	// One worker handles envelopes in the order they come.
	w := newWorld(t, worldSetup{workers: 1})
	alertTS, alert := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1].TS
	click := w.click(alice, alerts, offer, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))
	command := w.slash(alice, ops, "status "+run.ID)
	w.privateAnswer(command)
	before := w.snapshot()
	again := []*slacktest.Delivery{alert.Redeliver(), click.Redeliver(), command.Redeliver()}
	// Handled after the redeliveries by the one worker: its answer says
	// they were handled. (Help would not do: it is answered in its ack.)
	w.privateAnswer(w.slash(alice, ops, "status "+run.ID))
	for _, d := range again {
		if !d.Acked() {
			t.Error("a redelivery was not acked")
		}
		if n := len(d.Responses()); n != 0 {
			t.Errorf("a redelivery was answered %d times", n)
		}
	}
	if r, _ := w.engine.Get(w.ctx, run.ID); r.Version != run.Version {
		t.Errorf("a redelivery changed the run (version %d, was %d)", r.Version, run.Version)
	}
	before.check("redeliveries")
}

func TestInjectionInAlertText(t *testing.T) {
	w := newWorld(t, worldSetup{})
	w.signon.AddAPIUser("<!channel> Bot & Co", "odd@example.gov.uk")
	w.signon.AddApplication("<https://evil.example|Docs>")
	now := w.clock.Now()
	w.signon.AddToken("odd@example.gov.uk", "<https://evil.example|Docs>", now.AddDate(-2, 0, 5), now.AddDate(0, 0, 5).Sub(now.AddDate(-2, 0, 5)))
	list := "• api_user: `<!channel>`, application: `publishing-api`\n" +
		"• api_user: `" + userEmail + "`, application: `<https://evil.example|docs>`\n" +
		"• api_user: `odd@example.gov.uk`, application: `https-evil-example-docs`\n"
	alertTS, _ := w.sendAlert(1, alertmanager(commands.StatusFiring, 3, flows.Production, "production x warning", list))
	story := w.fake.Transcript(alerts, alertTS)
	offer := w.fake.Thread(alerts, alertTS, "")[1]
	if strings.Contains(string(offer.BlocksJSON), "<!channel>") || strings.Contains(string(offer.BlocksJSON), "<https://evil") {
		t.Errorf("the offer echoes mrkdwn from the alert or Signon:\n%s", offer.BlocksJSON)
	}
	wantInOrder(t, story, "*A Signon API token expires soon*", "&lt;!channel&gt; Bot &amp; Co", "&lt;https://evil.example|Docs&gt;")
}

func TestRedisDown(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1].TS
	before := w.snapshot()
	w.redis.Stop()
	if got := w.privateAnswer(w.click(alice, alerts, offer, "Rotate")); !strings.Contains(got, "The state store (Redis) did not answer in time, so nothing was changed") {
		t.Errorf("Rotate with Redis down: %q", got)
	}
	if got := w.privateAnswer(w.slash(alice, ops, userEmail+" "+appSlug)); !strings.Contains(got, "The state store (Redis) did not answer") {
		t.Errorf("a command with Redis down: %q", got)
	}
	if got := w.privateAnswer(w.slash(alice, ops, "list")); !strings.Contains(got, "The state store (Redis) did not answer") {
		t.Errorf("list with Redis down: %q", got)
	}
	w.redis.Start()
	before.check("requests while Redis was down")
}

// TestClickOnALostRun: Redis loses its data while a run waits at its sync
// gate. A click on the gate's button says the run is gone and how to go
// on, privately, and changes nothing.
func TestClickOnALostRun(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	w.click(alice, alerts, w.fake.Thread(alerts, alertTS, "")[1].TS, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))
	w.redis.Flush()
	before := w.snapshot()
	got := w.privateAnswer(w.click(alice, alerts, gateMessage(t, run), "Run sync"))
	for _, want := range []string{"I no longer have run `" + run.ID + "`", "Nothing was changed", "/rotate-token &lt;api-user-email&gt;"} {
		if !strings.Contains(got, want) {
			t.Errorf("answer %q lacks %q", got, want)
		}
	}
	before.check("a click on a lost run")
}

// Someone who holds no role in any environment is refused before the
// offer is read: with its record gone, they are still told they may not,
// while a starter learns the offer is gone.
func TestAClickWithoutARoleReadsNoOffer(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1].TS
	rdb := w.redis.Client()
	keys, err := rdb.Keys(w.ctx, "*offer:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("offer records %q (%v), want one", keys, err)
	}
	if err := rdb.Del(w.ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	if got := w.privateAnswer(w.click(mallory, alerts, offer, "Ignore")); !strings.Contains(got, "You may not ignore this token: you are not among the configured starters or approvers of any environment") {
		t.Errorf("Mallory's Ignore: %q", got)
	}
	if got := w.privateAnswer(w.click(alice, alerts, offer, "Ignore")); strings.Contains(got, "may not") {
		t.Errorf("Alice's Ignore of a lost offer: %q, want it to say the offer is gone", got)
	}
}
