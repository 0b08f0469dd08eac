package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// signonError marks an error as Signon's, so that a channel message can
// say which backend failed without reading the error's text.
type signonError struct{ err error }

func (e *signonError) Error() string { return e.err.Error() }
func (e *signonError) Unwrap() error { return e.err }

// Failure is what a channel message says about a failed call: what the
// bot was doing, what failed in a plain sentence, and the id under which
// the whole error (chain, addresses, URLs) is in the log. The thread is
// seen by everyone in the channel; the details are for operators.
func Failure(ctx context.Context, log *slog.Logger, err error) string {
	return failure(ctx, log, err, doing(err))
}

// failure is Failure with what the bot was doing said by the caller, ""
// when the message around it says so.
func failure(ctx context.Context, log *slog.Logger, err error, doing string) string {
	id := NewID("e")
	log.ErrorContext(ctx, "failure", "error_id", id, "err", err)
	text := Plain(err)
	if doing != "" {
		// "the cluster", "something", but "Signon" keeps its capital.
		if !strings.HasPrefix(text, "Signon") {
			text = strings.ToLower(text[:1]) + text[1:]
		}
		text = "Could not " + doing + ": " + text
	}
	return fmt.Sprintf("%s (error %s; the details are in the bot's logs)", strings.TrimSuffix(text, "."), id)
}

// Plain says in one sentence what kind of failure err is.
func Plain(err error) string {
	who := "The cluster"
	if errors.As(err, new(*signonError)) {
		who = "Signon"
	}
	switch {
	case errors.Is(err, ErrUnknownAPIUser):
		return "Signon has no API user with this email."
	case errors.Is(err, ErrUnknownApplication):
		return "Signon has no application of this name."
	case errors.Is(err, ErrSuspended):
		return "The API user is suspended in Signon."
	case errors.Is(err, ErrWrongOwner):
		return "The token belongs to another API user or application."
	case errors.Is(err, ErrAlreadyRevoked):
		return "Signon says the token was revoked already."
	case errors.Is(err, ErrUnknownToken):
		return "Signon has no such token."
	case errors.Is(err, ErrForbidden):
		return "My own access in the cluster does not allow this; an operator needs to check the bot's Role."
	case errors.Is(err, ErrNotFound):
		return "Something the runbook needs is missing from the cluster."
	case errors.Is(err, ErrTimeout):
		return who + " timed out."
	case errors.Is(err, ErrUnavailable):
		return who + " did not answer."
	case errors.Is(err, ErrBadInput):
		return "The request was refused as malformed."
	}
	return "Something went wrong on my side."
}

// internal matches what a channel must not show: URLs, addresses, ports.
var internal = regexp.MustCompile(`://|\b\d{1,3}(?:\.\d{1,3}){3}\b|:\d{2,5}\b|\btcp\b|\bdial\b`)

// doing is the outermost context of err ("read Secret x", "wait for
// Deployment y to roll out"), which the flows write and name only what
// the thread names already; "" when that context is not the flows' own.
func doing(err error) string {
	// Signon's own errors begin with the client's words, not the flows'.
	if sn := new(signonError); errors.As(err, &sn) && sn.Error() == err.Error() {
		return ""
	}
	first, _, ok := strings.Cut(err.Error(), ": ")
	if !ok || internal.MatchString(first) || len(first) > 120 {
		return ""
	}
	for _, s := range []error{ErrBadInput, ErrUnknownAPIUser, ErrUnknownApplication, ErrSuspended, ErrWrongOwner, ErrAlreadyRevoked,
		ErrUnknownToken, ErrUnavailable, ErrNotFound, ErrForbidden, ErrTimeout} {
		if first == s.Error() {
			return ""
		}
	}
	return first
}
