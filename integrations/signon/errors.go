package signon

import (
	"fmt"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// Op names an operation, as the script and the errors call it.
type Op string

// The operations of the script, one per flows.Signon method.
const (
	OpFindAPIUser Op = "find_api_user"
	OpTokens      Op = "tokens"
	OpExpiring    Op = "expiring"
	OpEstate      Op = "estate"
	OpIssue       Op = "issue"
	OpRevoke      Op = "revoke"
	OpReveal      Op = "reveal"
)

// Kind is what went wrong, as the script reports it or the client found it.
type Kind string

// The kinds of Error. The script refuses with the first eleven and writes
// nothing; the last four are the client's own.
const (
	KindBadInput           Kind = "bad_input"
	KindUnknownAPIUser     Kind = "unknown_api_user"
	KindUnknownApplication Kind = "unknown_application"
	KindSuspended          Kind = "suspended"
	KindWrongOwner         Kind = "wrong_owner"
	KindAlreadyRevoked     Kind = "already_revoked"
	KindUnknownToken       Kind = "unknown_token"
	// KindOutlived: a new two-year token would not be the one the sync
	// job writes, because an unrevoked token expires later.
	KindOutlived Kind = "outlived"
	// KindNoInitiator: the configured service identity has no active
	// Signon account, so Signon's event log cannot name anyone.
	KindNoInitiator Kind = "no_initiator"
	// KindClockSkew: Signon's clock and the bot's disagree by more than
	// the allowed skew, so the intent time cannot be trusted.
	KindClockSkew Kind = "clock_skew"
	// KindTooLate: the script started after the bot's deadline and wrote
	// nothing.
	KindTooLate Kind = "too_late"
	// KindInternal: the script failed unexpectedly (its transaction was
	// rolled back); the message is its exception, scrubbed.
	KindInternal Kind = "internal"

	KindTimeout   Kind = "timeout"
	KindExec      Kind = "exec"
	KindNoResult  Kind = "no_result"
	KindBadResult Kind = "bad_result"
)

var sentinels = map[Kind]error{
	KindBadInput:           flows.ErrBadInput,
	KindUnknownAPIUser:     flows.ErrUnknownAPIUser,
	KindUnknownApplication: flows.ErrUnknownApplication,
	KindSuspended:          flows.ErrSuspended,
	KindWrongOwner:         flows.ErrWrongOwner,
	KindAlreadyRevoked:     flows.ErrAlreadyRevoked,
	KindUnknownToken:       flows.ErrUnknownToken,
	KindOutlived:           flows.ErrOutlived,
	// A misconfiguration, not a request to retry, but the request (with
	// the bot's configuration) names a user Signon does not have.
	KindNoInitiator: flows.ErrBadInput,
}

// Error is every error of a Signon call. It wraps the flows sentinel for
// its Kind (ErrUnavailable for the kinds that are not the request's fault)
// and the cause, if any (a context error, the runner's error).
//
// Its message never holds a token: the script leaves them out, and the
// client cuts anything shaped like one out of what it quotes.
type Error struct {
	Op      Op
	Kind    Kind
	Message string
	Cause   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("signon %s: %v: %s", e.Op, e.Sentinel(), scrub(e.Message))
}

// Sentinel is the flows error this one wraps.
func (e *Error) Sentinel() error {
	if s, ok := sentinels[e.Kind]; ok {
		return s
	}
	return flows.ErrUnavailable
}

// Unwrap lets errors.Is find both the sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Sentinel()}
	}
	return []error{e.Sentinel(), e.Cause}
}

// scrub cuts anything that could be a token out of text quoted from the
// script or Rails (a stack trace or a database error can echo a value), by
// the bot's one rule, token.Redact.
func scrub(s string) string { return token.Redact(s) }
