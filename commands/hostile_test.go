package commands_test

import (
	"regexp"
	"strings"
	"testing"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// Hostile input through the real router, the real slack-go client and
// the fake Slack: oversized text, mrkdwn that would ping or link, and
// addresses and names with characters that fool eyes or shells. Each gets
// one clear private answer and changes nothing.

// hostileAnswer checks an answer to hostile input: short enough to read,
// and with nothing in it that pings or links.
func hostileAnswer(t *testing.T, what, got string) {
	t.Helper()
	if len(got) > 4000 {
		t.Errorf("%s: an answer of %d characters", what, len(got))
	}
	for _, bad := range []string{"<!", "<@", "<http", "<#"} {
		if strings.Contains(got, bad) {
			t.Errorf("%s: the answer echoes %q unescaped: %s", what, bad, got)
		}
	}
}

func TestHostileSlashCommands(t *testing.T) {
	w := newWorld(t, worldSetup{})
	before := w.snapshot()
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name, text, want string
		// bug, when set, says why the case fails today.
		bug string
	}{
		{"40 KB email", long(40000) + "@x.com " + appSlug, "is not an email address", ""},
		{"40 KB application", userEmail + " " + long(40000), "is not an application name", ""},
		{"40 KB environment", userEmail + " " + appSlug + " " + long(40000), "I do not know the environment", ""},
		{"40 KB word", long(40000), "is not something `/rotate-token` knows", ""},
		{"40 KB of words", strings.Repeat("a@b.c ", 6700), "To start a rotation, type", ""},
		{"3000-character email", long(2990) + "@x.com " + appSlug, "is not an email address", ""},
		{"3000-character application", userEmail + " " + long(3000), "is not an application name", ""},
		{"<!channel> as environment", userEmail + " " + appSlug + " <!channel>", "I do not know the environment", ""},
		{"<@U0ADMIN> as environment", userEmail + " " + appSlug + " <@U0ADMIN>", "I do not know the environment", ""},
		{"<@U0ADMIN> as email", "<@U0ADMIN>@x.com " + appSlug, "is not an email address", ""},
		{"link as email", "<https://evil.example|docs>@x.com " + appSlug, "is not an email address", ""},
		{"the flows' own mention markup", "x@{U0ADMIN} " + appSlug, "Signon has no API user", ""},
		{"Cyrillic homoglyph", "cоntent-tagger@alphagov.co.uk " + appSlug, "Signon has no API user", ""},
		{"right-to-left override", "\u202emoc.kuvog.latigid@reggat-tnetnoc " + appSlug, "Signon has no API user", ""},
		{"right-to-left mark in application", userEmail + " publishing-api\u200f", "is not an application name", ""},
		{"zero-width space", "\u200b" + userEmail + " " + appSlug, "Signon has no API user", ""},
		{"quoted address with a space", `"content tagger"@alphagov.co.uk ` + appSlug, "is not something `/rotate-token` knows", ""},
		{"single quote", "o'brien@alphagov.co.uk " + appSlug, "is not an email address", ""},
		{"shell substitution", "$(curl evil.example)@x.com " + appSlug, "is not something `/rotate-token` knows", ""},
		{"shell metacharacters in application", userEmail + " publishing-api;rm", "is not an application name", ""},
		{"backticks", "`id`@x.com " + appSlug, "is not an email address", ""},
		{"ampersand", "a&b@x.com " + appSlug, "a&amp;b@x.com", ""},
		{"pipe", "a|b@x.com " + appSlug, "Signon has no API user", ""},
		{"status of a forged id", "status r-<!channel>", "Type `/rotate-token status &lt;run&gt;`", ""},
		{"cancel of an oversized id", "cancel r-" + long(3000), "Type `/rotate-token cancel &lt;run&gt;`", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := w.in(t)
			if tc.bug != "" {
				t.Skip("BUG: " + tc.bug)
			}
			got := w.privateAnswer(w.slash(alice, ops, tc.text))
			t.Logf("answer: %.300s", got)
			if !strings.Contains(got, tc.want) {
				t.Errorf("answer:\n%.500s\nwant it to contain %q", got, tc.want)
			}
			hostileAnswer(t, tc.name, got)
		})
	}
	before.check("hostile commands")
	if n := len(w.fake.Calls("chat.postMessage", "chat.update")); n != 0 {
		t.Errorf("hostile commands made %d posts", n)
	}
}

func TestHostileFormSubmissions(t *testing.T) {
	w := newWorld(t, worldSetup{})
	before := w.snapshot()
	submitted := map[string]bool{}
	email, app := blocks.FormAPIUser, blocks.FormApplication
	const notEmail, notApp = "is not an email address", "is not an application name"
	for _, tc := range []struct {
		name, user, env, email, app string
		// want is in the private answer, when the form gets past its
		// check; inModal are the errors by field, when it does not.
		want    string
		inModal map[string]string
	}{
		{"someone with no role", mallory, flows.Production, userEmail, appSlug, "You may not rotate tokens in production", nil},
		{"an environment not offered", alice, "preview", userEmail, appSlug, `I do not know the environment "preview"`, nil},
		{"staging", alice, flows.Staging, userEmail, appSlug, "I will not rotate this token", nil},
		{"<!channel> as environment", alice, "<!channel>", userEmail, appSlug, "I do not know the environment", nil},
		{"homoglyph", alice, flows.Production, "cоntent-tagger@alphagov.co.uk", appSlug, "Signon has no API user", nil},
		{"<!channel> as email", alice, flows.Production, "<!channel>", appSlug, "", map[string]string{email: notEmail}},
		{"<@U0ADMIN> as email", alice, flows.Production, "<@U0ADMIN>@x.com", appSlug, "", map[string]string{email: notEmail}},
		{"link as application", alice, flows.Production, userEmail, "<https://evil.example|docs>", "", map[string]string{app: notApp}},
		{"3000-character email", alice, flows.Production, strings.Repeat("a", 2990) + "@x.com", appSlug, "", map[string]string{email: "(2996 characters)"}},
		{"3000-character application", alice, flows.Production, userEmail, strings.Repeat("a", 3000), "", map[string]string{app: "(3000 characters)"}},
		{"right-to-left override", alice, flows.Production, userEmail, "publishing-api\u202e", "", map[string]string{app: `"publishing-api\u202e" ` + notApp}},
		{"shell metacharacters", alice, flows.Production, "$(id)@x.com", "a;b", "", map[string]string{email: notEmail, app: notApp}},
		{"quotes", alice, flows.Production, `"a b"@x.com`, "it's", "", map[string]string{email: notEmail, app: notApp}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := w.in(t)
			cmd := w.slash(tc.user, ops, "")
			// The previous case's form closes when the fake reads the
			// bot's ack, which may come after the bot's answer: wait for
			// this case's own form, not the one still closing.
			var view slacktest.View
			if err := waitUntil(w.ctx, func() bool {
				for _, v := range w.fake.OpenViews(tc.user) {
					if !submitted[v.ID] {
						view = v
						return true
					}
				}
				return false
			}); err != nil {
				t.Fatalf("the form did not open: %v", err)
			}
			submitted[view.ID] = true
			d := w.fake.Submit(slacktest.ViewSubmission{User: tc.user, ViewID: view.ID, Values: map[string]map[string]slackapi.BlockAction{
				blocks.FormEnvironment: {blocks.FormEnvironment: {Type: "static_select", SelectedOption: slackapi.OptionBlockObject{Value: tc.env}}},
				blocks.FormAPIUser:     {blocks.FormAPIUser: {Type: "email_text_input", Value: tc.email}},
				blocks.FormApplication: {blocks.FormApplication: {Type: "plain_text_input", Value: tc.app}},
			}})
			if tc.inModal == nil {
				got := w.privateAnswer(cmd)
				t.Logf("answer: %.300s", got)
				if !strings.Contains(got, tc.want) {
					t.Errorf("answer:\n%.500s\nwant it to contain %q", got, tc.want)
				}
				hostileAnswer(t, tc.name, got)
				return
			}
			if _, err := d.WaitAck(w.ctx); err != nil {
				t.Fatal(err)
			}
			errs := w.viewErrors(tc.user, view.ID)
			t.Logf("errors in the modal: %q", errs)
			if len(errs) != len(tc.inModal) {
				t.Errorf("errors in the modal %q, want one for each of %q", errs, tc.inModal)
			}
			for field, want := range tc.inModal {
				if !strings.Contains(errs[field], want) {
					t.Errorf("the %s field's error %q does not say %q", field, errs[field], want)
				}
				if n := len(errs[field]); n > 300 {
					t.Errorf("the %s field's error is %d bytes long", field, n)
				}
			}
			if r := cmd.Responses(); len(r) != 0 {
				t.Errorf("a refused form was also answered: %+v", r)
			}
		})
	}
	before.check("hostile form submissions")
}

// TestStaleClicksChangeNothing clicks buttons that are still on screen
// after what they ask about has moved on (the edit that removes them is
// held up): a resolved alert's Rotate, and a cancelled run's Run sync.
func TestStaleClicksChangeNothing(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offerTS := w.fake.Thread(alerts, alertTS, "")[1].TS
	// The offer records its message once it is posted; a resolution
	// before that has no message to edit.
	if err := waitUntil(w.ctx, func() bool {
		o, err := w.store.OfferForAlert(w.ctx, alerts, alertTS)
		return err == nil && len(o.Messages) > 0
	}); err != nil {
		t.Fatal(err)
	}

	edits := w.fake.Hold("chat.update")
	resolved := alertmanager(commands.StatusResolved, 0, flows.Production, userEmail+" "+appSlug+" production monitoring/x warning", "")
	w.fake.SendMessage(slacktest.AlertmanagerMessage(alerts, resolved))
	if err := edits.Wait(w.ctx, 1); err != nil {
		t.Fatal(err)
	}
	before := w.snapshot()
	got := w.privateAnswer(w.click(alice, alerts, offerTS, "Rotate"))
	if !strings.Contains(got, "This alert has resolved") || !strings.Contains(got, "Nothing was changed") {
		t.Errorf("Rotate on a resolved offer: %q", got)
	}
	before.check("Rotate on a resolved offer")
	edits.Release()

	run := w.startByCommand(alice, userEmail+" "+appSlug)
	run = w.waitRun(run.ID, "the sync gate", atGate(flows.GateSync))
	gate := gateMessage(t, run)
	signon, jobs := w.signon.Snapshot(), w.cluster.JobsCreated()
	edits = w.fake.Hold("chat.update")
	w.privateAnswer(w.slash(alice, ops, "cancel "+run.ID))
	if err := edits.Wait(w.ctx, 1); err != nil {
		t.Fatal(err)
	}
	got = w.privateAnswer(w.click(bob, ops, gate, "Run sync"))
	if !strings.Contains(got, "This run has ended (cancelled)") || !strings.Contains(got, "Nothing was changed") {
		t.Errorf("Run sync on a cancelled run: %q", got)
	}
	edits.Release()
	run = w.waitRun(run.ID, "the end", ended)
	if run.Phase != flows.PhaseCancelled || w.cluster.JobsCreated() != jobs || w.signon.Snapshot() != signon {
		t.Errorf("after a stale Run sync the run is %s, with %d sync Jobs (was %d); Signon changed: %v", run.Phase, w.cluster.JobsCreated(), jobs, w.signon.Snapshot() != signon)
	}
	for _, a := range run.Approvals {
		if a.User == bob {
			t.Errorf("the stale click was recorded: %+v", a)
		}
	}
}

var startedRun = regexp.MustCompile("Started run `(r-[a-z0-9]+)`")

// startByCommand starts a rotation with /rotate-token text in the ops
// channel and returns its run.
func (w *world) startByCommand(user, text string) *flows.Run {
	w.t.Helper()
	got := w.privateAnswer(w.slash(user, ops, text))
	m := startedRun.FindStringSubmatch(got)
	if m == nil {
		w.t.Fatalf("/rotate-token %s: %q", text, got)
	}
	return w.waitRun(m[1], "the run", func(*flows.Run) bool { return true })
}

// TestUntrustedTextMentionsNobody puts Slack's mention syntax and the
// flows' own mention markup in everything a run quotes that the bot did
// not write: the API user's name in Signon, an environment variable's name
// in a Deployment, and the sync Job's log and events. The thread mentions
// only the people who acted, and quotes no token.
func TestUntrustedTextMentionsNobody(t *testing.T) {
	w := newWorld(t, worldSetup{})
	const evil = "U0EVIL"
	hostile := "@{" + evil + "} <@" + evil + "> <!channel> <!subteam^S0EVIL> <#C0EVIL> <https://evil.example|docs>"
	email := "evil-bot@alphagov.co.uk"
	w.signon.AddAPIUser("Evil "+hostile, email)
	now := w.clock.Now()
	created := now.AddDate(-2, 0, 9)
	w.signon.AddToken(email, appName, created, now.AddDate(0, 0, 9).Sub(created))
	secret := w.cluster.AddSecret("Evil "+hostile, appName)
	w.cluster.AddDeployment("evil-bot", "app", "TOKEN_"+hostile, secret)
	w.cluster.FailSyncs = 1
	w.cluster.FailLog = []string{"rake aborted! " + hostile}

	if got := w.privateAnswer(w.slash(alice, ops, email+" "+appSlug)); !strings.Contains(got, "Started run") {
		t.Fatalf("answer %q", got)
	}
	runs, err := w.engine.Active(w.ctx)
	if err != nil || len(runs) != 1 {
		t.Fatalf("active runs %d (%v)", len(runs), err)
	}
	run := w.waitRun(runs[0].ID, "the sync gate", atGate(flows.GateSync))
	w.click(alice, ops, gateMessage(t, run), "Run sync")
	run = w.waitRun(run.ID, "the failed sync", atGate(flows.GateRecover))
	w.click(alice, ops, gateMessage(t, run), "Retry")
	run = w.waitRun(run.ID, "the revoke gate", atGate(flows.GateRevoke))

	story := w.fake.Transcript(ops, run.Receipts[flows.StatusPostID].TS)
	if !strings.Contains(story, "rake aborted!") || !strings.Contains(story, "TOKEN_") {
		t.Fatalf("the thread does not quote the hostile text at all:\n%s", story)
	}
	var texts []string
	for _, c := range w.fake.Calls("chat.postMessage", "chat.update", "chat.postEphemeral") {
		// Blocks arrive as JSON, where < may be written \u003c.
		texts = append(texts, jsonEscapes.Replace(c.Args["blocks"]+c.Args["text"]))
	}
	for _, text := range texts {
		for _, bad := range []string{"<@" + evil, "<!channel", "<!subteam", "<#C0EVIL", "<https://evil"} {
			if strings.Contains(text, bad) {
				t.Fatalf("a message the bot sent holds %q: %s", bad, text)
			}
		}
		for _, m := range mentionIn.FindAllString(text, -1) {
			if m != "<@"+alice+">" && m != "<@"+bob+">" {
				t.Fatalf("a message mentions %s: %s", m, text)
			}
		}
	}
	w.noPlaintext(story)
}

var (
	mentionIn   = regexp.MustCompile(`<@[A-Z0-9]+>`)
	jsonEscapes = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
)
