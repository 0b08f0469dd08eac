// Package slack is the bot's way to Slack: one Web API client that every
// call goes through (rate limits, retries, metrics) and a Socket Mode
// runner that acks every envelope at once and hands the work to a pool.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
)

// Config configures a Client.
type Config struct {
	BotToken string // xoxb-
	AppToken string // xapp-, for Socket Mode
	// APIURL is the Web API base URL with its trailing slash; "" means
	// Slack's own.
	APIURL string
	// HTTPClient makes the requests; nil means one with a 30s timeout
	// that keeps a connection per worker open (defaultHTTPClient).
	HTTPClient *http.Client
	Metrics    *Metrics // nil: unregistered metrics
	Logger     *slog.Logger
	Retry      RetryPolicy
	// Sleep waits between attempts; nil means a timer. Tests replace it so
	// that a Retry-After of seconds costs none.
	Sleep func(ctx context.Context, d time.Duration) error
	// Limits, when set, pace the calls to stay within them (Paced() for
	// Slack's own); nil sends every call at once.
	Limits map[string]Limit
	// Now is the pacing's clock; nil means time.Now.
	Now func() time.Time
}

// RetryPolicy bounds the retries. Zero fields take the defaults.
type RetryPolicy struct {
	// MaxAttempts of a call that fails with a 5xx or a network error: 5.
	MaxAttempts int
	// MaxRateLimited is how many 429s in a row a call waits out: 10.
	MaxRateLimited int
	// BaseDelay doubles after every failure up to MaxDelay: 250ms, 8s.
	BaseDelay, MaxDelay time.Duration
}

// Client is the bot's only Web API client.
type Client struct {
	api     *slackapi.Client
	metrics *Metrics
	log     *slog.Logger
	retry   RetryPolicy
	sleep   func(ctx context.Context, d time.Duration) error
	pace    *pacer
	apiURL  string
}

// New makes a Client.
func New(cfg Config) *Client {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	opts := []slackapi.Option{slackapi.OptionHTTPClient(hc), slackapi.OptionAppLevelToken(cfg.AppToken)}
	if cfg.APIURL != "" {
		opts = append(opts, slackapi.OptionAPIURL(cfg.APIURL))
	}
	c := &Client{
		api:     slackapi.New(cfg.BotToken, opts...),
		metrics: cfg.Metrics,
		log:     cfg.Logger,
		retry:   cfg.Retry,
		sleep:   cfg.Sleep,
		apiURL:  cfg.APIURL,
	}
	if c.apiURL == "" {
		c.apiURL = slackapi.APIURL
	}
	if c.metrics == nil {
		c.metrics = NewMetrics(nil)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.retry.MaxAttempts, 5)
	def(&c.retry.MaxRateLimited, 10)
	if c.retry.BaseDelay == 0 {
		c.retry.BaseDelay = 250 * time.Millisecond
	}
	if c.retry.MaxDelay == 0 {
		c.retry.MaxDelay = 8 * time.Second
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	c.pace = &pacer{limits: cfg.Limits, now: cfg.Now, sleep: c.sleep, buckets: map[string]*bucket{}}
	if c.pace.now == nil {
		c.pace.now = time.Now
	}
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// safety says when a failed call may be sent again.
type safety int

const (
	// idempotent calls are retried after a 5xx or a network error: doing
	// them twice changes nothing.
	idempotent safety = iota
	// notTwice calls post something; they are retried only when Slack
	// certainly did not process them (429, or no connection was made), so
	// nothing posts twice.
	notTwice
)

// do runs call until it succeeds, fails for good, or ctx ends, and counts
// every attempt.
func (c *Client) do(ctx context.Context, method, channel string, s safety, call func(context.Context) error) error {
	delay := c.retry.BaseDelay
	failures, limited := 0, 0
	for {
		if err := c.pace.wait(ctx, method, channel); err != nil {
			return fmt.Errorf("slack %s: waiting for its turn under the rate limit: %w", method, err)
		}
		err := call(ctx)
		outcome := classify(err)
		c.metrics.calls.WithLabelValues(method, outcome).Inc()
		if err == nil {
			return nil
		}
		var wait time.Duration
		var rl *slackapi.RateLimitedError
		switch {
		case errors.As(err, &rl):
			limited++
			if limited > c.retry.MaxRateLimited {
				return fmt.Errorf("slack %s: still rate limited after %d waits: %w", method, limited-1, err)
			}
			wait = max(rl.RetryAfter, time.Second)
		case ctx.Err() == nil && retryable(err, s):
			failures++
			if failures >= c.retry.MaxAttempts {
				return fmt.Errorf("slack %s: gave up after %d attempts: %w", method, failures, err)
			}
			wait = delay
			delay = min(delay*2, c.retry.MaxDelay)
		default:
			return fmt.Errorf("slack %s: %w", method, err)
		}
		c.log.WarnContext(ctx, "slack call failed, retrying", "method", method, "outcome", outcome, "wait", wait, "err", err)
		if serr := c.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("slack %s: %w (stopped waiting to retry: %w)", method, err, serr)
		}
	}
}

// classify names an attempt's outcome for the calls metric.
func classify(err error) string {
	var rl *slackapi.RateLimitedError
	var sc slackapi.StatusCodeError
	var se slackapi.SlackErrorResponse
	var ne net.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &rl):
		return "rate_limited"
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errors.As(err, &sc) && sc.Code >= 500:
		return "server_error"
	case errors.As(err, &se):
		return "error"
	case errors.As(err, &ne):
		return "network_error"
	default:
		return "error"
	}
}

// transientCodes are Slack error codes that mean "try again".
var transientCodes = map[string]bool{"internal_error": true, "fatal_error": true, "service_unavailable": true, "request_timeout": true}

func retryable(err error, s safety) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		// No connection, so no request: safe for any call.
		return true
	}
	if s == notTwice {
		return false
	}
	var sc slackapi.StatusCodeError
	var se slackapi.SlackErrorResponse
	var ne net.Error
	switch {
	case errors.As(err, &sc):
		return sc.Code >= 500
	case errors.As(err, &se):
		return transientCodes[se.Err]
	default:
		return errors.As(err, &ne)
	}
}

// AuthTest says who the bot is.
func (c *Client) AuthTest(ctx context.Context) (*slackapi.AuthTestResponse, error) {
	var out *slackapi.AuthTestResponse
	err := c.do(ctx, "auth.test", "", idempotent, func(ctx context.Context) (err error) {
		out, err = c.api.AuthTestContext(ctx)
		return err
	})
	return out, err
}

// PostMessage posts a message (a reply when opts include
// slackapi.MsgOptionTS) and returns its ts.
func (c *Client) PostMessage(ctx context.Context, channel string, opts ...slackapi.MsgOption) (string, error) {
	var ts string
	err := c.do(ctx, "chat.postMessage", channel, notTwice, func(ctx context.Context) (err error) {
		_, ts, err = c.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	return ts, err
}

// PostEphemeral shows a message to one user in a channel.
func (c *Client) PostEphemeral(ctx context.Context, channel, user string, opts ...slackapi.MsgOption) (string, error) {
	var ts string
	err := c.do(ctx, "chat.postEphemeral", "", notTwice, func(ctx context.Context) (err error) {
		ts, err = c.api.PostEphemeralContext(ctx, channel, user, opts...)
		return err
	})
	return ts, err
}

// UpdateMessage edits a message of the bot's.
func (c *Client) UpdateMessage(ctx context.Context, channel, ts string, opts ...slackapi.MsgOption) error {
	return c.do(ctx, "chat.update", "", idempotent, func(ctx context.Context) error {
		_, _, _, err := c.api.UpdateMessageContext(ctx, channel, ts, opts...)
		return err
	})
}

// DeleteMessage deletes a message of the bot's.
func (c *Client) DeleteMessage(ctx context.Context, channel, ts string) error {
	return c.do(ctx, "chat.delete", "", idempotent, func(ctx context.Context) error {
		_, _, err := c.api.DeleteMessageContext(ctx, channel, ts)
		return err
	})
}

// Permalink is a link to a message.
func (c *Client) Permalink(ctx context.Context, channel, ts string) (string, error) {
	var link string
	err := c.do(ctx, "chat.getPermalink", "", idempotent, func(ctx context.Context) (err error) {
		link, err = c.api.GetPermalinkContext(ctx, &slackapi.PermalinkParameters{Channel: channel, Ts: ts})
		return err
	})
	return link, err
}

// OpenView opens a modal. The trigger_id lives 3 seconds and opens one view.
func (c *Client) OpenView(ctx context.Context, triggerID string, view slackapi.ModalViewRequest) (*slackapi.ViewResponse, error) {
	var out *slackapi.ViewResponse
	err := c.do(ctx, "views.open", "", idempotent, func(ctx context.Context) (err error) {
		out, err = c.api.OpenViewContext(ctx, triggerID, view)
		return err
	})
	return out, err
}

// PushView pushes a modal onto the open one.
func (c *Client) PushView(ctx context.Context, triggerID string, view slackapi.ModalViewRequest) (*slackapi.ViewResponse, error) {
	var out *slackapi.ViewResponse
	err := c.do(ctx, "views.push", "", idempotent, func(ctx context.Context) (err error) {
		out, err = c.api.PushViewContext(ctx, triggerID, view)
		return err
	})
	return out, err
}

// UpdateView replaces an open modal; hash, when set, guards against a
// concurrent update.
func (c *Client) UpdateView(ctx context.Context, viewID, hash string, view slackapi.ModalViewRequest) (*slackapi.ViewResponse, error) {
	var out *slackapi.ViewResponse
	err := c.do(ctx, "views.update", "", idempotent, func(ctx context.Context) (err error) {
		out, err = c.api.UpdateViewContext(ctx, view, "", hash, viewID)
		return err
	})
	return out, err
}

// PublishView publishes a user's Home tab, replacing what it showed.
func (c *Client) PublishView(ctx context.Context, userID string, view slackapi.HomeTabViewRequest) error {
	return c.do(ctx, "views.publish", "", idempotent, func(ctx context.Context) error {
		_, err := c.api.PublishViewContext(ctx, slackapi.PublishViewContextRequest{UserID: userID, View: view})
		return err
	})
}

// UserInfo describes a user.
func (c *Client) UserInfo(ctx context.Context, userID string) (*slackapi.User, error) {
	var out *slackapi.User
	err := c.do(ctx, "users.info", "", idempotent, func(ctx context.Context) (err error) {
		out, err = c.api.GetUserInfoContext(ctx, userID)
		return err
	})
	return out, err
}

// Email is the user's email address, "" when Slack does not show it.
func (c *Client) Email(ctx context.Context, userID string) (string, error) {
	u, err := c.UserInfo(ctx, userID)
	if err != nil {
		return "", err
	}
	return u.Profile.Email, nil
}

// GroupMembers lists a user group's members.
func (c *Client) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	var out []string
	err := c.do(ctx, "usergroups.users.list", "", idempotent, func(ctx context.Context) (err error) {
		out, err = c.api.GetUserGroupMembersContext(ctx, groupID)
		return err
	})
	return out, err
}

// Reply is an answer through a response_url.
type Reply struct {
	// Text is the message, or with Blocks the notification fallback.
	Text   string
	Blocks []slackapi.Block
	// InChannel shows the reply to everyone; by default only the person
	// who acted sees it.
	InChannel bool
	// ReplaceOriginal and DeleteOriginal act on the message whose button
	// was clicked.
	ReplaceOriginal bool
	DeleteOriginal  bool
}

// Respond answers an interaction or slash command through its
// response_url, which works even where the bot is not a member.
func (c *Client) Respond(ctx context.Context, responseURL string, r Reply) error {
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(r.Text, false)}
	if len(r.Blocks) > 0 {
		opts = append(opts, slackapi.MsgOptionBlocks(r.Blocks...))
	}
	s := notTwice
	switch {
	case r.DeleteOriginal:
		opts, s = append(opts, slackapi.MsgOptionDeleteOriginal(responseURL)), idempotent
	case r.ReplaceOriginal:
		opts, s = append(opts, slackapi.MsgOptionReplaceOriginal(responseURL)), idempotent
	case r.InChannel:
		opts = append(opts, slackapi.MsgOptionResponseURL(responseURL, slackapi.ResponseTypeInChannel))
	default:
		opts = append(opts, slackapi.MsgOptionResponseURL(responseURL, slackapi.ResponseTypeEphemeral))
	}
	return c.do(ctx, "response_url", "", s, func(ctx context.Context) error {
		_, _, err := c.api.PostMessageContext(ctx, "", opts...)
		return err
	})
}

var _ flows.Directory = (*Client)(nil)
