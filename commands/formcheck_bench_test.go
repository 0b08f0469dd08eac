package commands

import (
	"context"
	"strings"
	"testing"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// BenchmarkAnswerInAck measures what the form's check and the command
// answers add before an ack,
// against the path every other envelope takes (baseline: a click, which
// no check answers). Compare with BenchmarkEnvelopeAck's round trip.
func BenchmarkAnswerInAck(b *testing.B) {
	r := NewRouter(RouterConfig{})
	r.Check(blocks.FormCallbackID, checkForm)
	rt := &RotateToken{Status: func(context.Context, Command) error { return nil }}
	r.Command(CommandName, rt.Handle)
	r.CommandAnswer(CommandName, rt.Immediate)
	command := func(text string) slack.Envelope {
		return slack.Envelope{ID: "env-1", Command: &slackapi.SlashCommand{Command: CommandName, Text: text}}
	}
	form := func(email, app string) slack.Envelope {
		ic := &slackapi.InteractionCallback{Type: slackapi.InteractionTypeViewSubmission}
		ic.View = slackapi.View{ID: "V0FORM", CallbackID: blocks.FormCallbackID, State: &slackapi.ViewState{Values: map[string]map[string]slackapi.BlockAction{
			blocks.FormEnvironment: {blocks.FormEnvironment: {SelectedOption: slackapi.OptionBlockObject{Value: "production"}}},
			blocks.FormAPIUser:     {blocks.FormAPIUser: {Value: email}},
			blocks.FormApplication: {blocks.FormApplication: {Value: app}},
		}}}
		return slack.Envelope{ID: "env-1", Interaction: ic}
	}
	click := slack.Envelope{ID: "env-1", Interaction: &slackapi.InteractionCallback{Type: slackapi.InteractionTypeBlockActions}}
	for _, c := range []struct {
		name   string
		e      slack.Envelope
		answer bool
	}{
		{"baseline-click", click, false},
		{"form-well-formed", form("content-tagger@alphagov.co.uk", "publishing-api"), false},
		{"form-mistyped", form("Content Tagger", "Publishing API"), true},
		{"form-3000-characters", form(strings.Repeat("a", 2990)+"@x.com", strings.Repeat("b", 3000)), true},
		{"command-for-a-worker", command("status r-1"), false},
		{"command-help", command("help"), true},
		{"command-typo", command("stauts r-1"), true},
		{"command-3000-characters", command(strings.Repeat("x", 3000)), true},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, ok := r.AnswerInAck(c.e); ok != c.answer {
					b.Fatalf("answered %v, want %v", ok, c.answer)
				}
			}
		})
	}
}
