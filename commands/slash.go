package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// startCommand is `/rotate-token <api-user-email> <application>
// [environment]`, or several pairs for a batch.
func (b *Bot) startCommand(ctx context.Context, c Command) error {
	if len(c.Args) >= 4 {
		keys, err := b.pairsArgs(c.Args)
		if err != nil {
			return b.answer(ctx, c.ResponseURL, c.UserID, err, "")
		}
		return b.startBatch(ctx, c.UserID, c.ChannelID, c.ResponseURL, keys)
	}
	if len(c.Args) < 2 || len(c.Args) > 3 {
		return b.answer(ctx, c.ResponseURL, c.UserID, fmt.Errorf("%w: to start a rotation, type `/rotate-token <api-user-email> <application> [environment]`, for example `/rotate-token short-url-manager@alphagov.co.uk publishing-api %s`",
			flows.ErrBadInput, b.cfg.DefaultEnvironment), "")
	}
	env := b.cfg.DefaultEnvironment
	if len(c.Args) == 3 {
		env = strings.ToLower(c.Args[2])
	}
	key := flows.Key{Environment: env, APIUser: strings.ToLower(unmailto(c.Args[0])), Application: strings.ToLower(c.Args[1])}
	return b.startRun(ctx, c.UserID, c.ChannelID, c.ResponseURL, key)
}

// startRun starts a rotation asked for by command or form. Its status
// message is a new root message in channel, and its thread the run's.
func (b *Bot) startRun(ctx context.Context, user, channel, responseURL string, key flows.Key) error {
	return b.startRotation(ctx, user, channel, key, true, func(text string) error { return b.private(ctx, responseURL, text) })
}

// startRotation starts a rotation with /rotate-token's checks, answering
// the person through say. probe says "Asking Signon…" in channel first,
// which finds out whether the bot may post there before anything starts;
// without it the caller knows that it may.
func (b *Bot) startRotation(ctx context.Context, user, channel string, key flows.Key, probe bool, say func(text string) error) error {
	fail := func(err error, link string) error {
		_ = b.answer(ctx, "", user, err, link) // logs it
		if rerr := say(Answer(err, link)); rerr != nil {
			return fmt.Errorf("answer %s privately: %w", user, rerr)
		}
		return nil
	}
	if err := key.Validate(); err != nil {
		return fail(err, "")
	}
	envp, ok := b.engine.Policy().Environments[key.Environment]
	if !ok {
		return fail(fmt.Errorf("%w: I do not know the environment %s; I know %s", flows.ErrBadInput, flows.Quote(key.Environment), strings.Join(b.engine.Policy().EnvironmentNames(), ", ")), "")
	}
	if !envp.Rotate {
		return fail(&flows.RefusedError{Special: flows.SpecialCase{Kind: "staging", Reason: envp.NoRotateReason}}, "")
	}
	if ok, err := b.engine.MayStart(ctx, key.Environment, user); err != nil {
		return fail(fmt.Errorf("check who may rotate in %s: %w", key.Environment, err), "")
	} else if !ok {
		return fail(&flows.DeniedError{User: user, What: "rotate tokens in " + key.Environment, Reason: "you are not among the configured starters for " + key.Environment}, "")
	}
	if probe {
		_, err := b.slack.PostEphemeral(ctx, channel, user, slackapi.MsgOptionText(fmt.Sprintf(
			":hourglass_flowing_sand: Asking Signon about `%s` → `%s` in %s…", blocks.Escape(key.APIUser), blocks.Escape(key.Application), blocks.Escape(key.Environment)), false))
		var se slackapi.SlackErrorResponse
		if errors.As(err, &se) && (se.Err == "not_in_channel" || se.Err == "channel_not_found" || se.Err == "is_archived") {
			return fail(fmt.Errorf("%w: I cannot post in this conversation, and a rotation needs a thread. Invite me with `/invite @signon-token-bot`, or run the command in a channel I am in", flows.ErrBadInput), "")
		}
		if err != nil {
			return fail(fmt.Errorf("answer in channel %s: %w", channel, err), "")
		}
	}
	run, err := b.engine.Start(ctx, flows.StartRequest{
		Key: key, Mode: flows.ModeRotate, Actor: user,
		Thread: flows.Thread{Channel: channel}, Origin: flows.Origin{Kind: "command"},
	})
	if err != nil {
		return fail(err, b.runLink(run))
	}
	b.log.InfoContext(ctx, "run started by command", "run", run.ID, "user", user, "key", key.String())
	where := fmt.Sprintf("`/rotate-token status %s` shows where it is", run.ID)
	if link := b.runLink(run); link != "" {
		where = fmt.Sprintf("<%s|follow it in its thread>", link)
	}
	return say(fmt.Sprintf(":white_check_mark: Started run `%s` for %s: %s. It asks before the sync job runs and before the old token is revoked.",
		run.ID, blocks.Text(run.Label()), where))
}

// formMeta travels in the form's private_metadata: where the command was
// typed, and its response_url for answers (a submission has none).
type formMeta struct {
	Channel     string `json:"c"`
	ResponseURL string `json:"r"`
}

// openForm is `/rotate-token` with nothing after it: a modal to pick the
// environment, the API user and the application.
func (b *Bot) openForm(ctx context.Context, c Command) error {
	meta, err := json.Marshal(formMeta{Channel: c.ChannelID, ResponseURL: c.ResponseURL})
	if err != nil {
		return fmt.Errorf("encode the form's metadata: %w", err)
	}
	var envs []string
	p := b.engine.Policy()
	for _, name := range p.EnvironmentNames() {
		if p.Environments[name].Rotate {
			envs = append(envs, name)
		}
	}
	if _, err := b.slack.OpenView(ctx, c.TriggerID, blocks.StartForm(envs, b.cfg.DefaultEnvironment, string(meta))); err != nil {
		return b.answer(ctx, c.ResponseURL, c.UserID, fmt.Errorf("open the form: %w", err), "")
	}
	return nil
}

// submitForm starts the run the form asks for, once checkForm has passed
// it. Slack has closed the form by now (the runner acks before handlers
// run), so answers go through the command's response_url, as the
// command's own would.
func (b *Bot) submitForm(ctx context.Context, s Submission) error {
	var meta formMeta
	if err := json.Unmarshal([]byte(s.PrivateMetadata), &meta); err != nil || meta.Channel == "" || meta.ResponseURL == "" {
		return fmt.Errorf("form submitted by %s has no usable metadata", s.UserID)
	}
	return b.startRun(ctx, s.UserID, meta.Channel, meta.ResponseURL, formKey(s))
}

func formKey(s Submission) flows.Key {
	return flows.Key{
		Environment: blocks.FormValue(s.Values, blocks.FormEnvironment),
		APIUser:     strings.ToLower(strings.TrimSpace(blocks.FormValue(s.Values, blocks.FormAPIUser))),
		Application: strings.ToLower(strings.TrimSpace(blocks.FormValue(s.Values, blocks.FormApplication))),
	}
}

// typedName is an application's name as a person might type it, spaces
// and all ("Publishing API"): worth suggesting its parameterised form for.
var typedName = regexp.MustCompile(`^[a-z0-9][a-z0-9 _.-]*$`)

// checkForm finds the typing mistakes in a submitted form, so that Slack
// shows them beside the fields and keeps the form open for a fix. It
// judges shape only: whether Signon knows the user or the application
// takes a lookup, which has no place before the ack; those answers, and
// the environment's (the select offers only rotating ones), come after.
func checkForm(s Submission) map[string]string {
	k := formKey(s)
	typed := func(input string) string { return flows.Quote(strings.TrimSpace(blocks.FormValue(s.Values, input))) }
	errs := map[string]string{}
	if err := flows.ValidateEmail(k.APIUser); err != nil {
		errs[blocks.FormAPIUser] = fmt.Sprintf("%s is not an email address. Type the API user's email, as in the alert's api_user label.", typed(blocks.FormAPIUser))
	}
	if err := flows.ValidateApplication(k.Application); err != nil {
		msg := fmt.Sprintf("%s is not an application name like publishing-api.", typed(blocks.FormApplication))
		if len(k.Application) <= 100 && typedName.MatchString(k.Application) {
			if p := flows.Parameterize(k.Application); flows.ValidateApplication(p) == nil {
				msg += fmt.Sprintf(" Did you mean %s?", p)
			}
		}
		errs[blocks.FormApplication] = msg
	}
	return errs
}

var runIDPattern = regexp.MustCompile(`^r-[a-z0-9]{1,38}$`)

// runArg reads the one run id a sub-command takes.
func runArg(sub string, args []string) (string, error) {
	if len(args) != 1 || !runIDPattern.MatchString(args[0]) {
		return "", fmt.Errorf("%w: type `/rotate-token %s <run>` with a run id like `r-abcd1234`; `/rotate-token list` shows them", flows.ErrBadInput, sub)
	}
	return args[0], nil
}

// statusCommand is `/rotate-token status <run>`.
func (b *Bot) statusCommand(ctx context.Context, c Command) error {
	id, err := runArg("status", c.Args)
	if err == nil {
		err = b.maySee(ctx, c.UserID)
	}
	if err != nil {
		return b.answer(ctx, c.ResponseURL, c.UserID, err, "")
	}
	run, err := b.engine.Get(ctx, id)
	if err != nil {
		return b.answer(ctx, c.ResponseURL, c.UserID, err, "")
	}
	m := b.render.RunStatus(run)
	return b.slack.Respond(ctx, c.ResponseURL, slack.Reply{Text: m.Text, Blocks: m.Blocks})
}

// listCommand is `/rotate-token list`.
func (b *Bot) listCommand(ctx context.Context, c Command) error {
	if len(c.Args) != 0 {
		return b.answer(ctx, c.ResponseURL, c.UserID, fmt.Errorf("%w: `/rotate-token list` takes nothing after it", flows.ErrBadInput), "")
	}
	if err := b.maySee(ctx, c.UserID); err != nil {
		return b.answer(ctx, c.ResponseURL, c.UserID, err, "")
	}
	runs, err := b.engine.Active(ctx)
	if err != nil {
		return b.answer(ctx, c.ResponseURL, c.UserID, err, "")
	}
	m := b.render.RunList(runs)
	return b.slack.Respond(ctx, c.ResponseURL, slack.Reply{Text: m.Text, Blocks: m.Blocks})
}

// maySee refuses the runs under way to anyone who is not a starter or an
// approver: their threads link into channels the asker may not be in.
func (b *Bot) maySee(ctx context.Context, user string) error {
	ok, err := b.engine.MaySee(ctx, user)
	if err != nil {
		return fmt.Errorf("check who may see the rotations under way: %w", err)
	}
	if !ok {
		return &flows.DeniedError{User: user, What: "see the rotations under way", Reason: "only the configured starters and approvers may, as their threads can be in private channels"}
	}
	return nil
}

// cancelCommand is `/rotate-token cancel <run>`.
func (b *Bot) cancelCommand(ctx context.Context, c Command) error {
	id, err := runArg("cancel", c.Args)
	if err != nil {
		return b.answer(ctx, c.ResponseURL, c.UserID, err, "")
	}
	run, err := b.engine.Act(ctx, flows.ActRequest{RunID: id, Action: flows.ActionCancel, Actor: c.UserID})
	if err != nil {
		return b.answer(ctx, c.ResponseURL, c.UserID, err, b.runLink(run))
	}
	b.log.InfoContext(ctx, "run cancelled by command", "run", id, "user", c.UserID)
	return b.private(ctx, c.ResponseURL, fmt.Sprintf(":no_entry_sign: Cancelling run `%s`: it stops once the step in flight is done, and its thread says where the tokens stand.", id))
}
