package commands_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/flows"
)

// exampleAlert is the alert of ../shared/data as it reaches a channel.
func exampleAlert(t testing.TB) slackevents.MessageEvent {
	t.Helper()
	raw, err := os.ReadFile("testdata/example-alert-integration.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev slackevents.MessageEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// alertmanager builds an attachment as Alertmanager's Slack notifier
// does with GOV.UK's template.
func alertmanager(status string, n int, env string, labels, text string) slackapi.Attachment {
	envTitle := strings.ToUpper(env[:1]) + env[1:]
	link := "https://alertmanager.eks." + env + ".govuk.digital/#/alerts?receiver=monitoring%2Fslack"
	a := slackapi.Attachment{
		Color:     "#ffa500",
		Title:     ":warning: WARNING: " + commands.AlertName,
		TitleLink: link,
		Pretext:   "The following alert is firing:",
		Text:      "\n*Signon API User token is due to expire soon*\n" + text,
		Fields: []slackapi.AttachmentField{
			{Title: "Status", Value: ":fire: Firing", Short: true},
			{Title: "Severity", Value: ":warning: Warning", Short: true},
			{Title: "Environment", Value: envTitle, Short: true},
		},
	}
	subject := "[FIRING:" + itoa(n) + "] " + commands.AlertName
	if status == commands.StatusResolved {
		a.Title = ":green_tick: RESOLVED: " + commands.AlertName
		a.Pretext = "This alert is resolved:"
		a.Fields[0].Value = ":green_tick: Resolved"
		subject = "[RESOLVED] " + commands.AlertName
	}
	if labels != "" {
		subject += " (" + labels + ")"
	}
	a.Fallback = subject + " | " + link
	return a
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestParseAlert(t *testing.T) {
	const list = "*Expiring Tokens*:\n• api_user: `content-tagger@alphagov.co.uk`, application: `publishing-api`\n• api_user: `<mailto:hmrc-bot@example.gov.uk|hmrc-bot@example.gov.uk>`, application: `whitehall`\n"
	one := "content-tagger@alphagov.co.uk email-alert-api production monitoring/kube-prometheus-stack-prometheus warning"
	msg := func(a slackapi.Attachment) commands.AlertMessage {
		return commands.AlertMessage{Subtype: "bot_message", Attachments: []slackapi.Attachment{a}}
	}
	tok := func(user, app string) commands.AlertToken {
		return commands.AlertToken{APIUser: user, Application: app}
	}
	for _, tc := range []struct {
		name string
		msg  commands.AlertMessage
		want commands.Alert
	}{
		{"the example alert", commands.AlertMessageOf(ptr(exampleAlert(t))), commands.Alert{
			Name: commands.AlertName, Status: commands.StatusFiring, Environment: flows.Integration, Count: 1,
			Tokens: []commands.AlertToken{tok("content-tagger@alphagov.co.uk", "email-alert-api")}}},
		{"one alert", msg(alertmanager(commands.StatusFiring, 1, "production", one, "")), commands.Alert{
			Name: commands.AlertName, Status: commands.StatusFiring, Environment: flows.Production, Count: 1,
			Tokens: []commands.AlertToken{tok("content-tagger@alphagov.co.uk", "email-alert-api")}}},
		{"grouped alerts name no token", msg(alertmanager(commands.StatusFiring, 3, "production", "production monitoring/kube-prometheus-stack-prometheus warning", "")), commands.Alert{
			Name: commands.AlertName, Status: commands.StatusFiring, Environment: flows.Production, Count: 3}},
		{"grouped alerts of one API user name no application", msg(alertmanager(commands.StatusFiring, 2, "production", "content-tagger@alphagov.co.uk production monitoring/x warning", "")), commands.Alert{
			Name: commands.AlertName, Status: commands.StatusFiring, Environment: flows.Production, Count: 2}},
		{"the fixed template's list", msg(alertmanager(commands.StatusFiring, 2, "production", "production monitoring/x warning", list)), commands.Alert{
			Name: commands.AlertName, Status: commands.StatusFiring, Environment: flows.Production, Count: 2,
			Tokens: []commands.AlertToken{tok("content-tagger@alphagov.co.uk", "publishing-api"), tok("hmrc-bot@example.gov.uk", "whitehall")}}},
		{"resolved, one alert", msg(alertmanager(commands.StatusResolved, 0, "integration", "content-tagger@alphagov.co.uk email-alert-api integration monitoring/x warning", "")), commands.Alert{
			Name: commands.AlertName, Status: commands.StatusResolved, Environment: flows.Integration,
			Tokens: []commands.AlertToken{tok("content-tagger@alphagov.co.uk", "email-alert-api")}}},
		{"resolved, grouped", msg(alertmanager(commands.StatusResolved, 0, "production", "production monitoring/x warning", "")), commands.Alert{
			Name: commands.AlertName, Status: commands.StatusResolved, Environment: flows.Production}},
		{"staging", msg(alertmanager(commands.StatusFiring, 1, "staging", strings.Replace(one, "production", "staging", 1), "")), commands.Alert{
			Name: commands.AlertName, Status: commands.StatusFiring, Environment: flows.Staging, Count: 1,
			Tokens: []commands.AlertToken{tok("content-tagger@alphagov.co.uk", "email-alert-api")}}},
		{"environment from the link when the field is missing", func() commands.AlertMessage {
			a := alertmanager(commands.StatusFiring, 3, "integration", "integration x warning", "")
			a.Fields = a.Fields[:2]
			return msg(a)
		}(), commands.Alert{Name: commands.AlertName, Status: commands.StatusFiring, Environment: flows.Integration, Count: 3}},
		{"injection in the list is dropped", msg(alertmanager(commands.StatusFiring, 2, "production", "production x warning",
			"• api_user: `<!channel>`, application: `publishing-api`\n• api_user: `a@b.gov.uk`, application: `<https://evil|docs>`\n• api_user: `ok@b.gov.uk`, application: `whitehall`")), commands.Alert{
			Name: commands.AlertName, Status: commands.StatusFiring, Environment: flows.Production, Count: 2,
			Tokens: []commands.AlertToken{tok("ok@b.gov.uk", "whitehall")}}},
		{"an edit", commands.AlertMessage{Subtype: "message_changed", Attachments: []slackapi.Attachment{alertmanager(commands.StatusFiring, 1, "production", one, "")}}, commands.Alert{}},
		{"another alert", msg(func() slackapi.Attachment {
			a := alertmanager(commands.StatusFiring, 1, "production", one, "")
			a.Title = ":warning: WARNING: SignonDown"
			a.Fallback = "[FIRING:1] SignonDown (production warning) | https://alertmanager.eks.production.govuk.digital/"
			return a
		}()), commands.Alert{}},
		{"a person mentioning the alert", commands.AlertMessage{Text: "[FIRING:1] SignonApiUserTokenExpirySoon (a@b.gov.uk publishing-api production) again?"}, commands.Alert{}},
		{"an attachment quoting the alert in its text", msg(slackapi.Attachment{Title: "Runbook notes", Text: "[FIRING:1] SignonApiUserTokenExpirySoon (a@b.gov.uk x production)", Fallback: "notes about SignonApiUserTokenExpirySoon"}), commands.Alert{}},
		{"nothing", commands.AlertMessage{}, commands.Alert{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := commands.ParseAlert(tc.msg)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestAlertReportShape(t *testing.T) {
	for _, tc := range []struct {
		alert commands.Alert
		want  string
	}{
		{commands.Alert{}, `{"alert":null,"status":null,"environment":null,"count":null,"tokens":[]}`},
		{commands.Alert{Name: commands.AlertName, Status: commands.StatusFiring, Environment: "production", Count: 3},
			`{"alert":"SignonApiUserTokenExpirySoon","status":"firing","environment":"production","count":3,"tokens":[]}`},
		{commands.Alert{Name: commands.AlertName, Status: commands.StatusResolved, Tokens: []commands.AlertToken{{APIUser: "a@b.gov.uk", Application: "x"}}},
			`{"alert":"SignonApiUserTokenExpirySoon","status":"resolved","environment":null,"count":null,"tokens":[{"api_user":"a@b.gov.uk","application":"x"}]}`},
	} {
		b, err := json.Marshal(tc.alert.Report())
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("got  %s\nwant %s", b, tc.want)
		}
	}
}

func FuzzParseAlert(f *testing.F) {
	ex := exampleAlert(f).Message.Attachments[0]
	f.Add(ex.Fallback, ex.Title, ex.Text, "Integration", ex.TitleLink)
	f.Add("[FIRING:3] SignonApiUserTokenExpirySoon (production x) | https://alertmanager.eks.production.govuk.digital/", ":warning: WARNING: SignonApiUserTokenExpirySoon",
		"• api_user: `a@b.gov.uk`, application: `publishing-api`", "Production", "")
	f.Add("[RESOLVED] SignonApiUserTokenExpirySoon (<!channel>@x.com <b>)", "", "api_user: `<x>`, application: `y`", "<!here>", "javascript:alert(1)")
	f.Fuzz(func(t *testing.T, fallback, title, text, env, link string) {
		a := commands.ParseAlert(commands.AlertMessage{Attachments: []slackapi.Attachment{{
			Fallback: fallback, Title: title, Text: text, TitleLink: link,
			Fields: []slackapi.AttachmentField{{Title: "Environment", Value: env}},
		}}})
		if a.Name == "" {
			if !reflect.DeepEqual(a, commands.Alert{}) {
				t.Fatalf("not an alert, yet %+v", a)
			}
			return
		}
		if a.Status != commands.StatusFiring && a.Status != commands.StatusResolved {
			t.Fatalf("status %q", a.Status)
		}
		if a.Environment != "" && strings.ContainsAny(a.Environment, "<>& ") {
			t.Fatalf("environment %q", a.Environment)
		}
		for _, tok := range a.Tokens {
			key := flows.Key{Environment: "production", APIUser: tok.APIUser, Application: tok.Application}
			if err := key.Validate(); err != nil {
				t.Fatalf("token %+v is not well-formed: %v", tok, err)
			}
		}
		if _, err := json.Marshal(a.Report()); err != nil {
			t.Fatal(err)
		}
	})
}
