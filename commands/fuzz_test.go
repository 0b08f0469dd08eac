package commands_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

// The seed corpora are in testdata/fuzz/<target>: real messages and
// payloads (the example alert, grouped, resolved and listed variants, the
// buttons and the form the bot renders) and hostile ones.

// FuzzAlertMessage reads a whole message event, as Slack delivers it and
// `bot parse-alert` reads it, through the alert parser.
func FuzzAlertMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev slackevents.MessageEvent
		if json.Unmarshal(raw, &ev) != nil {
			return
		}
		m := commands.AlertMessageOf(&ev)
		a := commands.ParseAlert(m)
		if _, err := json.Marshal(a.Report()); err != nil {
			t.Fatal(err)
		}
		if a.Name == "" {
			if !reflect.DeepEqual(a, commands.Alert{}) {
				t.Fatalf("not an alert, yet %+v", a)
			}
			return
		}
		checkAlert(t, m, a)
		// parse(render(a)) = a: what the bot read is all Alertmanager
		// needs to say it again.
		if again := commands.ParseAlert(renderAlert(a)); !reflect.DeepEqual(again, a) {
			t.Fatalf("parse(render(%+v)) = %+v", a, again)
		}
	})
}

// checkAlert holds a parsed alert to what the parser may accept.
func checkAlert(t *testing.T, m commands.AlertMessage, a commands.Alert) {
	t.Helper()
	if a.Name != commands.AlertName {
		t.Fatalf("alert name %q", a.Name)
	}
	if m.Subtype != "" && m.Subtype != "bot_message" {
		t.Fatalf("a %s message read as an alert", m.Subtype)
	}
	if !slices.ContainsFunc(m.Attachments, func(x slackapi.Attachment) bool {
		return strings.Contains(x.Title, commands.AlertName) || strings.Contains(x.Fallback, commands.AlertName)
	}) {
		t.Fatal("read as an alert, but no attachment's title or subject names it")
	}
	if a.Status != commands.StatusFiring && a.Status != commands.StatusResolved {
		t.Fatalf("status %q", a.Status)
	}
	if a.Count < 0 || a.Count > 999999 {
		t.Fatalf("count %d", a.Count)
	}
	if a.Environment != "" {
		if err := (flows.Key{Environment: a.Environment, APIUser: userEmail, Application: appSlug}).Validate(); err != nil || flows.Parameterize(a.Environment) != a.Environment {
			t.Fatalf("environment %q", a.Environment)
		}
	}
	seen := map[commands.AlertToken]bool{}
	for _, tok := range a.Tokens {
		if err := (flows.Key{Environment: flows.Production, APIUser: tok.APIUser, Application: tok.Application}).Validate(); err != nil {
			t.Fatalf("token %+v is not well-formed: %v", tok, err)
		}
		if tok.APIUser != strings.ToLower(tok.APIUser) {
			t.Fatalf("API user %q is not lower case", tok.APIUser)
		}
		if seen[tok] {
			t.Fatalf("token %+v twice", tok)
		}
		seen[tok] = true
	}
}

// renderAlert writes an alert as Alertmanager's Slack notifier does with
// the fixed template, which lists the tokens.
func renderAlert(a commands.Alert) commands.AlertMessage {
	status, title := "FIRING", ":warning: WARNING: "+a.Name
	if a.Status == commands.StatusResolved {
		status, title = "RESOLVED", ":green_tick: RESOLVED: "+a.Name
	}
	if a.Count > 0 {
		status += fmt.Sprintf(":%d", a.Count)
	}
	link := "https://alertmanager.example/#/alerts"
	var fields []slackapi.AttachmentField
	if a.Environment != "" {
		link = "https://alertmanager.eks." + a.Environment + ".govuk.digital/#/alerts"
		fields = append(fields, slackapi.AttachmentField{Title: "Environment", Value: strings.ToUpper(a.Environment[:1]) + a.Environment[1:], Short: true})
	}
	var text strings.Builder
	text.WriteString("*Expiring Tokens*:\n")
	for _, tok := range a.Tokens {
		fmt.Fprintf(&text, "• api_user: `%s`, application: `%s`\n", tok.APIUser, tok.Application)
	}
	return commands.AlertMessage{Subtype: "bot_message", Attachments: []slackapi.Attachment{{
		Title: title, TitleLink: link, Fields: fields, Text: text.String(),
		Fallback: fmt.Sprintf("[%s] %s (monitoring/prometheus warning) | %s", status, a.Name, link),
	}}}
}

const typedURL = "https://hooks.slack.test/commands/T0/1/typed"

// FuzzSlashCommand types /rotate-token with any text, as a starter or as
// someone with no role, through the real router and bot.
func FuzzSlashCommand(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string, starter bool) {
		w := newFuzzWorld(t)
		user := mallory
		if starter {
			user = alice
		}
		w.slash(user, text, typedURL)
		w.checkAnswers(t)

		answers, views := w.slack.answersSnapshot(), w.slack.viewsSnapshot()
		if len(answers) == 0 && len(views) == 0 {
			t.Fatalf("%q got no answer", text)
		}
		for _, a := range answers {
			if a.url != typedURL {
				t.Fatalf("answered %q at %s, not the command's response_url", text, a.url)
			}
		}
		if w.slack.posts != 0 {
			t.Fatalf("%q made %d posts", text, w.slack.posts)
		}
		starts, acts := w.engine.calls()
		want, isStart := typedKey(w.engine.policy, text)
		switch {
		case len(starts) > 1:
			t.Fatalf("%q started %d runs", text, len(starts))
		case len(starts) == 1 && (!isStart || !starter):
			t.Fatalf("%q by %s started %+v", text, user, starts[0].Key)
		case len(starts) == 1 && want != (flows.Key{}) && starts[0].Key != want:
			t.Fatalf("%q started %+v, want %+v", text, starts[0].Key, want)
		case len(starts) == 0 && isStart && starter && want != (flows.Key{}):
			t.Fatalf("%q by a starter is a well-formed start of %+v, yet nothing started", text, want)
		}
		args := strings.Fields(text)
		for _, a := range acts {
			if a.Action != flows.ActionCancel || len(args) != 2 || !strings.EqualFold(args[0], "cancel") || a.RunID != args[1] || a.Actor != user {
				t.Fatalf("%q made the engine act: %+v", text, a)
			}
		}
	})
}

// typedKey is what a start command's words name, worked out apart from
// the bot: isStart reports whether the words are a start at all, and key
// is the token when they name a well-formed one in an environment that
// rotates ("" when the address is in mrkdwn's <mailto:> form, which the
// bot unwraps).
func typedKey(p flows.Policy, text string) (key flows.Key, isStart bool) {
	args := strings.Fields(text)
	if len(args) == 0 || slices.Contains([]string{"help", "status", "list", "cancel"}, strings.ToLower(args[0])) || !strings.Contains(args[0], "@") {
		return flows.Key{}, false
	}
	if len(args) < 2 || len(args) > 3 || strings.Contains(args[0], "mailto:") {
		return flows.Key{}, true
	}
	key = flows.Key{Environment: flows.Production, APIUser: strings.ToLower(args[0]), Application: strings.ToLower(args[1])}
	if len(args) == 3 {
		key.Environment = strings.ToLower(args[2])
	}
	if env, ok := p.Environments[key.Environment]; !ok || !env.Rotate || key.Validate() != nil {
		return flows.Key{}, true
	}
	return key, true
}

// FuzzBlockAction clicks any button value with any action_id, anywhere,
// through the real router and bot: only a genuine click on the fuzz
// world's offer or gate may reach the engine or change the offer.
func FuzzBlockAction(f *testing.F) {
	f.Fuzz(func(t *testing.T, actionID, value, channel, messageTS, threadTS string, starter bool) {
		w := newFuzzWorld(t)
		user := mallory
		if starter {
			user = alice
		}
		w.click(user, channel, messageTS, threadTS, actionID, value)
		w.checkAnswers(t)
		for _, v := range w.slack.viewsSnapshot() {
			b, _ := json.Marshal(v)
			echoSafe(t, "the modal", string(b))
		}

		click := fmt.Sprintf("%s clicked %q = %q in %s (message %s, thread %s)", user, actionID, value, channel, messageTS, threadTS)
		onOffer := value == blocks.OfferValue(fuzzOfferID, fuzzItemID) && channel == alerts && (threadTS == fuzzAlertTS || messageTS == fuzzOfferTS)
		onGate := value == blocks.GateValue(fuzzRunID, fuzzGateID) && channel == alerts && (threadTS == "" || threadTS == fuzzAlertTS)
		starts, acts := w.engine.calls()
		for _, s := range starts {
			mode := map[string]flows.Mode{blocks.ActionRotate: flows.ModeRotate, blocks.ActionRevokeDisused: flows.ModeRevokeDisused}
			if !onOffer || actionID != blocks.ActionRotate+":"+fuzzItemID && actionID != blocks.ActionRevokeDisused+":"+fuzzItemID {
				t.Fatalf("%s: started a run", click)
			}
			name, _, _ := strings.Cut(actionID, ":")
			if s.Key != fuzzKey || s.Mode != mode[name] || s.Thread != w.offer.Alert || s.Origin.OfferID != fuzzOfferID || s.Actor != user {
				t.Fatalf("%s: started %+v", click, s)
			}
		}
		for _, a := range acts {
			if !onGate || actionID != blocks.GatePrefix+string(a.Action)+":"+fuzzGateID || a.RunID != fuzzRunID || a.GateID != fuzzGateID || a.Actor != user {
				t.Fatalf("%s: the engine acted: %+v", click, a)
			}
		}
		o, err := w.offers.Offer(t.Context(), fuzzOfferID)
		if err != nil {
			t.Fatal(err)
		}
		ignored := o.Items[0].IgnoredBy != ""
		if ignored && (!onOffer || actionID != blocks.ActionIgnore+":"+fuzzItemID || !starter) {
			t.Fatalf("%s: the token was ignored", click)
		}
		if len(starts)+len(acts) == 0 && !ignored && len(w.slack.answersSnapshot())+len(w.slack.viewsSnapshot()) == 0 {
			t.Fatalf("%s: no answer", click)
		}
	})
}

// FuzzViewSubmission submits the /rotate-token form with any inputs and
// any private_metadata (the bot's own, or forged), through the real
// router and bot.
func FuzzViewSubmission(f *testing.F) {
	f.Fuzz(func(t *testing.T, metadata, env, email, app string, rendered bool) {
		w := newFuzzWorld(t)
		w.slash(alice, "", typedURL)
		views := w.slack.viewsSnapshot()
		if len(views) != 1 || views[0].CallbackID != blocks.FormCallbackID {
			t.Fatalf("the bare command opened %+v", views)
		}
		if rendered {
			metadata = views[0].PrivateMetadata
		}
		inAck := w.submit(alice, metadata, map[string]map[string]slackapi.BlockAction{
			blocks.FormEnvironment: {blocks.FormEnvironment: {Type: "static_select", SelectedOption: slackapi.OptionBlockObject{Value: env}}},
			blocks.FormAPIUser:     {blocks.FormAPIUser: {Type: "email_text_input", Value: email}},
			blocks.FormApplication: {blocks.FormApplication: {Type: "plain_text_input", Value: app}},
		})
		w.checkAnswers(t)
		// A mistyped email or application is shown beside its field, and
		// the form does nothing else; anything well formed goes on.
		wantErrs := map[string]bool{
			blocks.FormAPIUser:     flows.ValidateEmail(strings.ToLower(strings.TrimSpace(email))) != nil,
			blocks.FormApplication: flows.ValidateApplication(strings.ToLower(strings.TrimSpace(app))) != nil,
		}
		if !wantErrs[blocks.FormAPIUser] && !wantErrs[blocks.FormApplication] {
			if inAck != nil {
				t.Fatalf("form (%q, %q) is well formed, yet answered in the ack: %+v", email, app, inAck)
			}
		} else {
			if inAck == nil || inAck.ResponseAction != slackapi.RAErrors {
				t.Fatalf("form (%q, %q) is mistyped, yet answered in the ack with %+v", email, app, inAck)
			}
			n := 0
			for field, want := range wantErrs {
				msg, got := inAck.Errors[field]
				if got != want || (got && (strings.TrimSpace(msg) == "" || len(msg) > 1000)) {
					t.Fatalf("form (%q, %q): the %s field's error is %q, want one: %v", email, app, field, msg, want)
				}
				if want {
					n++
				}
			}
			if len(inAck.Errors) != n {
				t.Fatalf("errors for fields the form does not have: %+v", inAck.Errors)
			}
			if starts, _ := w.engine.calls(); len(starts)+len(w.slack.answersSnapshot())+len(w.slack.ephemeralsSnapshot()) != 0 {
				t.Fatalf("a form refused in the ack also did something: %d starts", len(starts))
			}
			return
		}

		var meta struct {
			Channel     string `json:"c"`
			ResponseURL string `json:"r"`
		}
		usable := json.Unmarshal([]byte(metadata), &meta) == nil && meta.Channel != "" && meta.ResponseURL != ""
		starts, _ := w.engine.calls()
		answers := w.slack.answersSnapshot()
		if !usable {
			if len(starts)+len(answers)+len(w.slack.ephemeralsSnapshot()) != 0 {
				t.Fatalf("a form with metadata %q did something: %d starts, %d answers", metadata, len(starts), len(answers))
			}
			return
		}
		if len(answers) == 0 {
			t.Fatalf("form (%q, %q, %q) got no answer", env, email, app)
		}
		for _, a := range answers {
			if a.url != meta.ResponseURL {
				t.Fatalf("answered at %s, not the form's command's %s", a.url, meta.ResponseURL)
			}
		}
		// parse(render(x)): the key the form's inputs name is the key
		// started, in the channel the command was typed in.
		want := flows.Key{Environment: env, APIUser: strings.ToLower(strings.TrimSpace(email)), Application: strings.ToLower(strings.TrimSpace(app))}
		envp, known := w.engine.policy.Environments[env]
		valid := known && envp.Rotate && want.Validate() == nil
		switch {
		case len(starts) > 1:
			t.Fatalf("one submission started %d runs", len(starts))
		case len(starts) == 1 && !valid:
			t.Fatalf("form (%q, %q, %q) started %+v", env, email, app, starts[0].Key)
		case len(starts) == 1 && (starts[0].Key != want || starts[0].Thread.Channel != meta.Channel):
			t.Fatalf("form (%q, %q, %q) started %+v in %+v, want %+v in %s", env, email, app, starts[0].Key, starts[0].Thread, want, meta.Channel)
		case len(starts) == 0 && valid:
			t.Fatalf("form (%q, %q, %q) is a well-formed start, yet nothing started", env, email, app)
		}
	})
}
