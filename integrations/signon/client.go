// Package signon is the bot's Signon for one environment. Signon has no API
// for tokens, so the Client does what an engineer would do in a console: it
// runs one embedded Ruby script with `rails runner` in the signon Deployment's
// app container, through a Runner (the Kubernetes exec API in production,
// a local process in tests), and reads back one marked JSON line.
//
// signontest has an in-memory double with the same behaviour, held to it by
// a conformance suite that both pass.
package signon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

const (
	// DefaultTimeout bounds one call. Rails boots in seconds; Signon with
	// its full Gemfile in tens of seconds on a busy node. The process gets
	// 70s of it in the pod (see bounds).
	DefaultTimeout = 90 * time.Second
	// DefaultClockSkew is how far apart the bot's and Signon's clocks may
	// be. Clocks under NTP are milliseconds apart; the margin also covers
	// MySQL storing created_at to the whole second.
	DefaultClockSkew = time.Minute
	// DefaultTokenLife is ApiUser::DEFAULT_TOKEN_LIFE, Rails' 2.years in
	// seconds (two years of 365.2425 days).
	DefaultTokenLife = flows.TokenLife
	// maxOutput caps what a run may print; an expiry report of every API
	// user's tokens is well under it.
	maxOutput = 8 << 20
	// maxWithin is the longest expiry window the script accepts.
	maxWithin = 20 * 366 * 24 * time.Hour
)

// Config is one environment's Signon.
type Config struct {
	// ServiceIdentity is the email of the Signon user recorded as the
	// initiator of a change when the requester has no Signon account.
	ServiceIdentity string
	// Rails starts Rails in the container's working directory. Default
	// {"bin/rails"}.
	Rails []string
	// Timeout bounds each call, Rails' boot included. Default
	// DefaultTimeout.
	Timeout time.Duration
	// ClockSkew is the allowed difference between the bot's clock and
	// Signon's. Default DefaultClockSkew.
	ClockSkew time.Duration
	// Clock is the bot's clock. Default flows.SystemClock.
	Clock flows.Clock
}

// Client is flows.Signon for one environment. It is safe for concurrent use;
// every call is one `rails runner` process.
type Client struct {
	runner  Runner
	rails   []string
	service string
	timeout time.Duration
	skew    time.Duration
	clock   flows.Clock
}

// New checks cfg and returns a Client that runs the script through r.
func New(r Runner, cfg Config) (*Client, error) {
	if r == nil {
		return nil, fmt.Errorf("signon: no runner")
	}
	if err := flows.ValidateEmail(cfg.ServiceIdentity); err != nil {
		return nil, fmt.Errorf("signon: service identity: %w", err)
	}
	if cfg.Timeout < 0 || cfg.ClockSkew < 0 {
		return nil, fmt.Errorf("signon: negative timeout or clock skew")
	}
	c := &Client{
		runner:  r,
		rails:   cfg.Rails,
		service: strings.ToLower(cfg.ServiceIdentity),
		timeout: cfg.Timeout,
		skew:    cfg.ClockSkew,
		clock:   cfg.Clock,
	}
	if len(c.rails) == 0 {
		c.rails = []string{"bin/rails"}
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.skew == 0 {
		c.skew = DefaultClockSkew
	}
	if c.clock == nil {
		c.clock = flows.SystemClock{}
	}
	return c, nil
}

// FindAPIUser finds an API user by email.
func (c *Client) FindAPIUser(ctx context.Context, email string) (flows.APIUser, error) {
	req := request{Op: OpFindAPIUser}
	if err := c.email(&req, email); err != nil {
		return flows.APIUser{}, err
	}
	var out struct {
		User flows.APIUser `json:"user"`
	}
	if err := c.call(ctx, req, &out); err != nil {
		return flows.APIUser{}, err
	}
	return out.User, nil
}

// Tokens lists the user's tokens for the application, newest first.
func (c *Client) Tokens(ctx context.Context, email, application string) (flows.TokenSet, error) {
	req := request{Op: OpTokens}
	if err := c.target(&req, email, application); err != nil {
		return flows.TokenSet{}, err
	}
	var out wireTokens
	if err := c.call(ctx, req, &out); err != nil {
		return flows.TokenSet{}, err
	}
	set := flows.TokenSet{User: out.User, Application: out.Application, LastSyncedAt: out.LastSyncedAt, Synced: out.Synced, SyncedTokenID: out.SyncedTokenID, Tokens: []flows.Token{}}
	for _, w := range out.Tokens {
		t, err := w.token()
		if err != nil {
			return flows.TokenSet{}, &Error{Op: req.Op, Kind: KindBadResult, Message: err.Error()}
		}
		set.Tokens = append(set.Tokens, t)
	}
	return set, nil
}

// Expiring lists the newest unrevoked token of every (API user,
// application) that expires before Signon's now plus within, soonest first.
func (c *Client) Expiring(ctx context.Context, within time.Duration) ([]flows.ExpiringToken, error) {
	req := request{Op: OpExpiring, Within: within.Seconds()}
	if within <= 0 || within > maxWithin {
		return nil, &Error{Op: req.Op, Kind: KindBadInput, Message: fmt.Sprintf("expiry window %v is not between 0 and %v", within, maxWithin)}
	}
	var out wireExpiring
	if err := c.call(ctx, req, &out); err != nil {
		return nil, err
	}
	rows := make([]flows.ExpiringToken, 0, len(out.Rows))
	for _, r := range out.Rows {
		t, err := r.Token.token()
		if err != nil {
			return nil, &Error{Op: req.Op, Kind: KindBadResult, Message: err.Error()}
		}
		rows = append(rows, flows.ExpiringToken{User: r.User, Application: r.Application, Token: t, LastSyncedAt: r.LastSyncedAt})
	}
	return rows, nil
}

// Issue makes a token as Signon's "Add application token" does (two-year
// life, signin permission, ACCESS_TOKEN_GENERATED), or returns the unrevoked
// token of that user and application made at or after req.IntentAt less the
// allowed clock skew. A call that timed out is safe to repeat with the same
// IntentAt.
func (c *Client) Issue(ctx context.Context, req flows.IssueRequest) (flows.Issued, error) {
	r := request{Op: OpIssue, IntentAt: req.IntentAt.UTC()}
	if err := c.target(&r, req.Email, req.Application); err != nil {
		return flows.Issued{}, err
	}
	if req.IntentAt.IsZero() {
		return flows.Issued{}, &Error{Op: r.Op, Kind: KindBadInput, Message: "no intent time"}
	}
	if err := c.initiator(&r, req.Initiator, req.RunID, req.Requester); err != nil {
		return flows.Issued{}, err
	}
	var out wireIssued
	err := c.call(ctx, r, &out)
	secret := token.NewSecret(out.Secret)
	out.Secret = ""
	if err != nil {
		return flows.Issued{}, err
	}
	t, err := out.Token.token()
	if err != nil {
		return flows.Issued{}, &Error{Op: r.Op, Kind: KindBadResult, Message: err.Error()}
	}
	if !token.ValidFormat(secret.Reveal()) || secret.Fingerprint() != t.Fingerprint {
		return flows.Issued{}, &Error{Op: r.Op, Kind: KindBadResult, Message: fmt.Sprintf("token %d came back malformed or not matching its digest", t.ID)}
	}
	return flows.Issued{Token: t, Secret: secret, Existing: out.Existing, Initiator: out.Initiator}, nil
}

// Revoke revokes one token of the user and application and records
// ACCESS_TOKEN_REVOKED.
func (c *Client) Revoke(ctx context.Context, req flows.RevokeRequest) (flows.Revoked, error) {
	r := request{Op: OpRevoke, TokenID: req.TokenID}
	if err := c.target(&r, req.Email, req.Application); err != nil {
		return flows.Revoked{}, err
	}
	if req.TokenID <= 0 {
		return flows.Revoked{}, &Error{Op: r.Op, Kind: KindBadInput, Message: fmt.Sprintf("token id %d is not a token id", req.TokenID)}
	}
	if err := c.initiator(&r, req.Initiator, req.RunID, req.Requester); err != nil {
		return flows.Revoked{}, err
	}
	var out wireRevoked
	if err := c.call(ctx, r, &out); err != nil {
		return flows.Revoked{}, err
	}
	t, err := out.Token.token()
	if err != nil {
		return flows.Revoked{}, &Error{Op: r.Op, Kind: KindBadResult, Message: err.Error()}
	}
	return flows.Revoked{Token: t, Initiator: out.Initiator}, nil
}

// Reveal reads the plaintext of one unrevoked, unexpired token of the user
// and application by id. The script writes nothing, not even an event:
// Signon records no event when a token is looked at.
func (c *Client) Reveal(ctx context.Context, req flows.RevealRequest) (flows.Revealed, error) {
	r := request{Op: OpReveal, TokenID: req.TokenID}
	if err := c.target(&r, req.Email, req.Application); err != nil {
		return flows.Revealed{}, err
	}
	if req.TokenID <= 0 {
		return flows.Revealed{}, &Error{Op: r.Op, Kind: KindBadInput, Message: fmt.Sprintf("token id %d is not a token id", req.TokenID)}
	}
	var out wireRevealed
	err := c.call(ctx, r, &out)
	secret := token.NewSecret(out.Secret)
	out.Secret = ""
	if err != nil {
		return flows.Revealed{}, err
	}
	t, err := out.Token.token()
	if err != nil {
		return flows.Revealed{}, &Error{Op: r.Op, Kind: KindBadResult, Message: err.Error()}
	}
	if t.ID != req.TokenID || !token.ValidFormat(secret.Reveal()) || secret.Fingerprint() != t.Fingerprint {
		return flows.Revealed{}, &Error{Op: r.Op, Kind: KindBadResult, Message: fmt.Sprintf("token %d came back malformed, not matching its digest, or not the one asked for", t.ID)}
	}
	return flows.Revealed{Token: t, Secret: secret}, nil
}

func (c *Client) email(r *request, email string) error {
	if flows.ValidateEmail(email) != nil {
		return &Error{Op: r.Op, Kind: KindBadInput, Message: fmt.Sprintf("%q is not an email address", email)}
	}
	r.Email = strings.ToLower(email)
	return nil
}

func (c *Client) target(r *request, email, application string) error {
	if err := c.email(r, email); err != nil {
		return err
	}
	if !ValidApplication(application) {
		return &Error{Op: r.Op, Kind: KindBadInput, Message: fmt.Sprintf("%q is not an application name", application)}
	}
	r.Application = application
	return nil
}

// initiator fills in who the change is recorded for: the Signon account,
// and the run and Slack user the EventLog's trailing message names.
func (c *Client) initiator(r *request, email, runID, requester string) error {
	if err := CheckAudit(email, runID, requester); err != nil {
		return &Error{Op: r.Op, Kind: KindBadInput, Message: err.Error()}
	}
	r.Initiator = strings.ToLower(email)
	r.ServiceIdentity = c.service
	r.RunID, r.Requester = runID, requester
	return nil
}

var (
	runIDPattern     = regexp.MustCompile(`^[a-z]{1,8}-[A-Za-z0-9-]{4,40}$`)
	slackUserPattern = regexp.MustCompile(`^[A-Z0-9]{2,20}$`)
)

// CheckAudit checks what a change's EventLog entry will name, as the
// script does: an optional initiator email, the run id (required) and an
// optional Slack user id.
func CheckAudit(initiator, runID, requester string) error {
	switch {
	case initiator != "" && flows.ValidateEmail(initiator) != nil:
		return fmt.Errorf("initiator %q is not an email address", initiator)
	case !runIDPattern.MatchString(runID):
		return fmt.Errorf("run id %q is not a run id", flows.Clip(runID))
	case requester != "" && !slackUserPattern.MatchString(requester):
		return fmt.Errorf("requester %q is not a Slack user id", flows.Clip(requester))
	}
	return nil
}

// ValidApplication accepts what can name a Signon application: its name or
// its slug, without control characters.
func ValidApplication(s string) bool {
	if strings.TrimSpace(s) == "" || len(s) > 255 {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// call runs the script for req and decodes its result into out. The output
// is wiped once decoded: for Issue it held a token.
func (c *Client) call(ctx context.Context, req request, out any) error {
	req.Nonce = nonce()
	req.SentAt = c.clock.Now().UTC()
	limit, grace := bounds(c.timeout)
	// The script must not start a change after the process would have
	// been stopped had it started at once: a second guard, for a process
	// that started late.
	req.Deadline = req.SentAt.Add(limit)
	req.Skew = c.skew.Seconds()
	body, err := json.Marshal(req)
	if err != nil {
		return &Error{Op: req.Op, Kind: KindBadInput, Message: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	stdout := &capped{max: maxOutput}
	stderr := &capped{max: maxOutput}
	defer stdout.wipe()
	runErr := c.runner.Run(ctx, command(c.rails, body, limit, grace), bytes.NewReader(script), stdout, stderr)
	// A run cut short by the deadline can return while the exec stream
	// still copies into the writers: what comes after this is dropped.
	out1, over := stdout.seal()
	err1, _ := stderr.seal()
	if over {
		return &Error{Op: req.Op, Kind: KindBadResult, Message: fmt.Sprintf("output over %d bytes", maxOutput)}
	}
	raw, err := outcome(req.Op, req.Nonce, out1, err1, runErr, ctx.Err())
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &Error{Op: req.Op, Kind: KindBadResult, Message: "result does not decode: " + err.Error()}
	}
	return nil
}

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// capped keeps up to max bytes and notes whether more came. It never fails
// a write, so a chatty process is not killed by a broken pipe.
type capped struct {
	max    int
	mu     sync.Mutex
	buf    []byte
	over   bool
	sealed bool
}

func (w *capped) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if w.sealed {
		return n, nil
	}
	if room := w.max - len(w.buf); n > room {
		w.over = true
		p = p[:max(room, 0)]
	}
	w.buf = append(w.buf, p...)
	return n, nil
}

// seal ends the writes and returns what was kept, which no later write
// changes.
func (w *capped) seal() ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sealed = true
	return w.buf, w.over
}

func (w *capped) wipe() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sealed = true
	clear(w.buf[:cap(w.buf)])
}

var _ flows.Signon = (*Client)(nil)
