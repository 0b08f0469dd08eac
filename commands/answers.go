package commands

import (
	"errors"
	"fmt"
	"strings"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

// BackendDown is the error of an environment whose Signon or cluster the
// bot could not set up when it started: the bot runs without it, and
// says so when asked to act there.
type BackendDown struct {
	Environment string
	Reason      string
}

func (e *BackendDown) Error() string {
	return fmt.Sprintf("environment %s was not set up: %s", e.Environment, e.Reason)
}

// Unwrap makes it an ErrUnavailable: nothing was changed.
func (e *BackendDown) Unwrap() error { return flows.ErrUnavailable }

// Answer is what the bot says privately about err: what went wrong, in
// the person's terms, and what to do instead. link, when set, points to
// the run the error is about (an active run, a finished one). Everything
// quoted from the error is escaped.
func Answer(err error, link string) string {
	var (
		denied  *flows.DeniedError
		refused *flows.RefusedError
		active  *flows.ActiveRunError
		stale   *flows.StaleError
		corrupt *flows.CorruptError
		down    *BackendDown
		gone    *goneRunError
	)
	switch {
	case errors.As(err, &denied):
		return fmt.Sprintf(":no_entry: You may not %s: %s. Nothing was changed; ask someone who may, or ask for access in the bot's configuration.",
			blocks.Escape(denied.What), blocks.Text(denied.Reason))
	case errors.As(err, &refused):
		text := ":information_source: I will not rotate this token. " + blocks.Escape(refused.Special.Reason)
		if link := blocks.LinkTo(refused.Special.Link, "Read the procedure"); link != "" {
			text += " " + link
		}
		return text
	case errors.As(err, &active):
		where := fmt.Sprintf("run `%s` (`/rotate-token status %s` shows it)", blocks.Escape(active.RunID), blocks.Escape(active.RunID))
		if link != "" {
			where = fmt.Sprintf("<%s|run %s>", link, blocks.Escape(active.RunID))
		}
		return ":arrows_counterclockwise: A rotation of this token is under way already: " + where + ". Follow it there; nothing new was started."
	case errors.As(err, &stale):
		text := ":hourglass: " + blocks.Text(stale.Reason) + " Nothing was changed."
		if link != "" {
			text += fmt.Sprintf(" <%s|Open the thread>", link)
		}
		return text
	case errors.Is(err, flows.ErrUnknownAPIUser):
		return ":warning: " + sentence(err) + " The alert's `api_user` label is the API user's email, not its name. Nothing was changed."
	case errors.Is(err, flows.ErrUnknownApplication):
		return ":warning: " + sentence(err) + " Use the alert's `application` label, like `publishing-api`. Nothing was changed."
	case errors.Is(err, flows.ErrSuspended):
		return ":warning: " + sentence(err) + " A suspended API user's token cannot be rotated. Nothing was changed."
	case errors.As(err, &gone):
		return fmt.Sprintf(":warning: I no longer have run `%s`, so this button does nothing. Finished runs are forgotten after a while, and a run under way only if my state store (Redis) lost its data. Nothing was changed. "+
			"The tokens are where the thread last said; to rotate this token, start again with %s: a token an earlier run made is found and used, not issued twice.", blocks.Escape(gone.runID), usageLine)
	case errors.Is(err, flows.ErrRunNotFound):
		return ":warning: There is no such run. `/rotate-token list` shows the rotations under way."
	case errors.Is(err, flows.ErrOfferNotFound):
		return ":warning: I no longer have that offer: offers are forgotten some time after their last change (30 days unless configured otherwise). Start a rotation with " + usageLine + "."
	case errors.Is(err, flows.ErrBadInput):
		return ":warning: " + sentence(err)
	case errors.As(err, &corrupt):
		return ":warning: A record I keep is damaged, so I cannot go on with this. Nothing was changed. The details are in the bot's logs for an operator."
	case errors.Is(err, flows.ErrForbidden):
		return ":warning: My own access in the cluster does not allow this (" + detail(err) + "). Nothing was changed; an operator needs to check the bot's Role."
	case errors.As(err, &down):
		return fmt.Sprintf(":warning: I cannot work in %s: its Signon and cluster could not be set up when I started (%s). Nothing was changed; an operator needs to look (the bot's /readyz says the same).",
			blocks.Escape(down.Environment), blocks.Escape(down.Reason))
	case errors.Is(err, flows.ErrUnavailable), errors.Is(err, flows.ErrTimeout):
		return ":warning: " + backend(err) + " did not answer in time, so nothing was changed. Try again in a minute."
	}
	return ":warning: Sorry, that did not work because of a problem on my side. Nothing was changed that I know of; the details are in the bot's logs."
}

// usageLine is the command that starts a rotation, for answers.
const usageLine = "`/rotate-token &lt;api-user-email&gt; &lt;application&gt; [environment]`"

// detail is the error's own words without the sentinel's, escaped: the
// message names what was wrong ("unknown environment "preview" (known:
// integration, production)").
func detail(err error) string {
	msg := err.Error()
	for _, s := range []error{flows.ErrBadInput, flows.ErrUnknownAPIUser, flows.ErrUnknownApplication, flows.ErrSuspended, flows.ErrForbidden} {
		if i := strings.LastIndex(msg, s.Error()+": "); i >= 0 && errors.Is(err, s) {
			msg = msg[i+len(s.Error())+2:]
			break
		}
	}
	return blocks.Escape(msg)
}

// sentence is detail as a sentence: a capital first, a full stop last.
func sentence(err error) string {
	d := detail(err)
	if d == "" {
		return d
	}
	d = strings.ToUpper(d[:1]) + d[1:]
	if !strings.HasSuffix(d, ".") {
		d += "."
	}
	return d
}

// backend names what did not answer, from the error's context: the state
// store and Signon say who they are; the rest is the cluster.
func backend(err error) string {
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "state store"):
		return "The state store (Redis)"
	case strings.Contains(msg, "signon"):
		return "Signon"
	default:
		return "The cluster"
	}
}
