package sandbox

import (
	"encoding/json"
	"errors"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
)

// wireError carries a port error across HTTP with its kind, so that the
// client returns an error that wraps the same flows sentinel.
type wireError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	// Signon carries a *signon.Error whole, so that the Signon double
	// behind the sandbox is as strict over the wire as in process.
	Signon *signon.Error `json:"signon,omitempty"`
}

var kinds = []struct {
	name string
	err  error
}{
	{"bad_input", flows.ErrBadInput},
	{"unknown_api_user", flows.ErrUnknownAPIUser},
	{"unknown_application", flows.ErrUnknownApplication},
	{"suspended", flows.ErrSuspended},
	{"wrong_owner", flows.ErrWrongOwner},
	{"already_revoked", flows.ErrAlreadyRevoked},
	{"unknown_token", flows.ErrUnknownToken},
	{"unavailable", flows.ErrUnavailable},
	{"not_found", flows.ErrNotFound},
	{"forbidden", flows.ErrForbidden},
	{"timeout", flows.ErrTimeout},
	{"rollout_not_started", flows.ErrRolloutNotStarted},
}

func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	var se *signon.Error
	if errors.As(err, &se) {
		return &wireError{Kind: "signon", Message: err.Error(), Signon: &signon.Error{Op: se.Op, Kind: se.Kind, Message: se.Message}}
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return &wireError{Kind: k.name, Message: err.Error()}
		}
	}
	return &wireError{Kind: "other", Message: err.Error()}
}

// remoteError is an error that came back from the sandbox.
type remoteError struct {
	msg string
	err error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.err }

func fromWire(w *wireError) error {
	if w == nil {
		return nil
	}
	if w.Signon != nil {
		return w.Signon
	}
	for _, k := range kinds {
		if k.name == w.Kind {
			return &remoteError{msg: w.Message, err: k.err}
		}
	}
	return errors.New(w.Message)
}

// issued is flows.Issued on the wire: with the plaintext, which
// flows.Issued refuses to marshal.
type issued struct {
	flows.Issued
	Plaintext string `json:"plaintext"`
}

// revealed is flows.Revealed on the wire, with the plaintext, like issued.
type revealed struct {
	flows.Revealed
	Plaintext string `json:"plaintext"`
}

// request is one call: its method's arguments, in order, as JSON.
type request struct {
	Args []json.RawMessage `json:"args"`
}

type response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *wireError      `json:"error,omitempty"`
}
