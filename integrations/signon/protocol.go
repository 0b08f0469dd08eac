package signon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// marker starts the script's result line; the request's nonce follows it.
const marker = "signon-token-bot-result:"

// request is the JSON the script reads. Times are the bot's clock.
type request struct {
	Op       Op        `json:"op"`
	Nonce    string    `json:"nonce"`
	SentAt   time.Time `json:"sent_at"`
	Deadline time.Time `json:"deadline"`
	// Skew is the allowed clock difference, in seconds.
	Skew float64 `json:"skew"`

	Email           string    `json:"email,omitempty"`
	Application     string    `json:"application,omitempty"`
	Within          float64   `json:"within,omitempty"`
	IntentAt        time.Time `json:"intent_at,omitzero"`
	TokenID         int64     `json:"token_id,omitempty"`
	Initiator       string    `json:"initiator,omitempty"`
	ServiceIdentity string    `json:"service_identity,omitempty"`
	// RunID and Requester (a Slack user id) go into the trailing message
	// of every EventLog entry the script writes.
	RunID     string `json:"run_id,omitempty"`
	Requester string `json:"requester,omitempty"`
}

// reply is the result line after the marker.
type reply struct {
	OK     bool            `json:"ok"`
	Now    time.Time       `json:"now"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Kind    Kind   `json:"kind"`
		Message string `json:"message"`
	} `json:"error"`
}

// wireToken is a token as the script describes it: the first 16 hex
// digits of the plaintext's SHA-256. A null expires_at never expires.
type wireToken struct {
	ID          int64     `json:"id"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	RevokedAt   time.Time `json:"revoked_at"`
	Fingerprint string    `json:"fingerprint"`
}

func (w wireToken) token() (flows.Token, error) {
	fp := token.FromHexDigest(w.Fingerprint)
	if w.ID <= 0 || len(w.Fingerprint) != token.FingerprintLen || fp == "" || w.CreatedAt.IsZero() {
		return flows.Token{}, fmt.Errorf("token %d is incomplete", w.ID)
	}
	return flows.Token{ID: w.ID, CreatedAt: w.CreatedAt, ExpiresAt: w.ExpiresAt, RevokedAt: w.RevokedAt, Fingerprint: fp}, nil
}

type wireTokens struct {
	User          flows.APIUser     `json:"user"`
	Application   flows.Application `json:"application"`
	Tokens        []wireToken       `json:"tokens"`
	LastSyncedAt  time.Time         `json:"last_synced_at"`
	Synced        bool              `json:"synced"`
	SyncedTokenID int64             `json:"synced_token_id"`
}

type wireExpiring struct {
	Rows []struct {
		User         flows.APIUser     `json:"user"`
		Application  flows.Application `json:"application"`
		Token        wireToken         `json:"token"`
		LastSyncedAt time.Time         `json:"last_synced_at"`
	} `json:"rows"`
}

type wireIssued struct {
	Token     wireToken       `json:"token"`
	Secret    string          `json:"secret"`
	Existing  bool            `json:"existing"`
	Initiator flows.Initiator `json:"initiator"`
}

type wireRevealed struct {
	Token  wireToken `json:"token"`
	Secret string    `json:"secret"`
}

type wireRevoked struct {
	Token     wireToken       `json:"token"`
	Initiator flows.Initiator `json:"initiator"`
}

// exitStatus is how a Runner reports a non-zero exit.
type exitStatus interface{ ExitStatus() int }

// outcome turns what a run printed and how it ended into the result's raw
// JSON or an *Error. A result line wins over everything else: the script
// printed it after its transaction committed, so even a run that then timed
// out or exited non-zero did what it says.
func outcome(op Op, nonce string, stdout, stderr []byte, runErr, ctxErr error) (json.RawMessage, error) {
	line, found, dup := resultLine(stdout, nonce)
	if dup {
		return nil, &Error{Op: op, Kind: KindBadResult, Message: "more than one result line"}
	}
	if found {
		var r reply
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, &Error{Op: op, Kind: KindBadResult, Message: "result line is not JSON: " + err.Error()}
		}
		if !r.OK {
			if r.Error == nil || r.Error.Kind == "" {
				return nil, &Error{Op: op, Kind: KindBadResult, Message: "failure without an error"}
			}
			if _, known := sentinels[r.Error.Kind]; !known && !scriptOnlyKinds[r.Error.Kind] {
				return nil, &Error{Op: op, Kind: KindBadResult, Message: scrub(fmt.Sprintf("unknown error kind %q: %s", r.Error.Kind, r.Error.Message))}
			}
			return nil, &Error{Op: op, Kind: r.Error.Kind, Message: scrub(r.Error.Message)}
		}
		if len(r.Result) == 0 || bytes.Equal(r.Result, []byte("null")) {
			return nil, &Error{Op: op, Kind: KindBadResult, Message: "success without a result"}
		}
		return r.Result, nil
	}
	tail := stderrExcerpt(stderr)
	var status exitStatus
	switch {
	case ctxErr != nil:
		return nil, &Error{Op: op, Kind: KindTimeout, Message: "no result before the deadline" + tail, Cause: ctxErr}
	case errors.As(runErr, &status) && timeoutExit(status.ExitStatus()):
		return nil, &Error{Op: op, Kind: KindTimeout, Message: "rails runner was stopped in the pod at its time limit" + tail, Cause: errors.Join(context.DeadlineExceeded, runErr)}
	case errors.As(runErr, &status):
		return nil, &Error{Op: op, Kind: KindExec, Message: fmt.Sprintf("rails runner exited with status %d%s", status.ExitStatus(), tail), Cause: runErr}
	case runErr != nil:
		return nil, &Error{Op: op, Kind: KindExec, Message: scrub("could not run rails runner: "+runErr.Error()) + tail, Cause: runErr}
	default:
		return nil, &Error{Op: op, Kind: KindNoResult, Message: "rails runner printed no result" + tail}
	}
}

// scriptOnlyKinds are the kinds the script reports that wrap
// ErrUnavailable.
var scriptOnlyKinds = map[Kind]bool{KindClockSkew: true, KindTooLate: true, KindInternal: true}

// resultLine finds the line that starts with the marker and this call's
// nonce.
func resultLine(stdout []byte, nonce string) (line []byte, found, dup bool) {
	prefix := []byte(marker + nonce + " ")
	for l := range bytes.Lines(stdout) {
		if rest, ok := bytes.CutPrefix(l, prefix); ok {
			if found {
				return nil, true, true
			}
			line, found = bytes.TrimSpace(rest), true
		}
	}
	return line, found, false
}

// stderrExcerpt quotes the start of stderr, where Ruby prints the
// exception and the first frames of its backtrace. It scrubs before it cuts,
// so a cut cannot leave a piece of a token too short to be recognised.
func stderrExcerpt(stderr []byte) string {
	const max = 2000
	s := scrub(string(bytes.TrimSpace(stderr)))
	if s == "" {
		return ""
	}
	if len(s) > max {
		s = s[:max] + " ..."
	}
	return "; stderr: " + s
}
