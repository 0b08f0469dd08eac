package blocks

import (
	"fmt"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
)

// The /rotate-token form: its callback_id and its inputs, each the
// block_id and the action_id of one input.
const (
	FormCallbackID  = "rotate-token.form"
	FormEnvironment = "environment"
	FormAPIUser     = "api_user"
	FormApplication = "application"
)

// FormValue reads one input of a submitted form.
func FormValue(values map[string]map[string]slack.BlockAction, input string) string {
	v := values[input][input]
	if v.SelectedOption.Value != "" {
		return v.SelectedOption.Value
	}
	return v.Value
}

// StartForm is the modal `/rotate-token` opens with no arguments. Slack
// checks the email's shape itself; metadata comes back with the
// submission.
func StartForm(envs []string, def, metadata string) slack.ModalViewRequest {
	var opts []*slack.OptionBlockObject
	var initial *slack.OptionBlockObject
	for _, e := range envs {
		o := slack.NewOptionBlockObject(e, plain(e), nil)
		opts = append(opts, o)
		if e == def {
			initial = o
		}
	}
	envSelect := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Environment"), FormEnvironment, opts...)
	envSelect.InitialOption = initial
	email := slack.NewEmailTextInputBlockElement(plain("short-url-manager@alphagov.co.uk"), FormAPIUser)
	app := slack.NewPlainTextInputBlockElement(plain("publishing-api"), FormApplication)
	app.MinLength, app.MaxLength = 2, 100
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      FormCallbackID,
		PrivateMetadata: metadata,
		Title:           plain("Rotate a token"),
		Submit:          plain("Start"),
		Close:           plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			section("Rotates a Signon API user's token for one application, step by step in a thread, asking before the sync and before the old token is revoked."),
			slack.NewInputBlock(FormEnvironment, plain("Environment"), nil, envSelect),
			slack.NewInputBlock(FormAPIUser, plain("API user's email"), plain("As in the alert's api_user label"), email),
			slack.NewInputBlock(FormApplication, plain("Application"), plain("As in the alert's application label, like publishing-api"), app),
		}},
	}
}

// The reveal modal: its callback_id.
const RevealCallbackID = "rotate-token.reveal"

// RevealPending is the modal a Reveal click opens at once, while Signon is
// asked for the token (the click's trigger expires in 3 seconds).
func RevealPending(run *flows.Run) slack.ModalViewRequest {
	return revealModal(fmt.Sprintf(":hourglass_flowing_sand: Fetching the new token for %s from Signon. This takes a few seconds.", Text(run.Label())))
}

// RevealProblem replaces the pending modal when the token cannot be shown.
func RevealProblem(text string) slack.ModalViewRequest {
	return revealModal(":warning: " + text)
}

func revealModal(text string) slack.ModalViewRequest {
	return notice(RevealCallbackID, "New token", text)
}
