package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// refusedCodes are the error codes with which Slack refuses a token or an
// app's set-up (Slack's Web API documents them for every method, and
// apps.connections.open's page lists them): asking again cannot help,
// only a person changing the token or the app can. slack-go's Socket Mode
// loop gives up on four of them by itself and retries the others forever.
var refusedCodes = map[string]bool{
	"not_authed": true, "invalid_auth": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "not_allowed_token_type": true, "no_permission": true, "missing_scope": true,
	"org_login_required": true, "ekm_access_denied": true, "access_denied": true,
	"team_access_not_granted": true, "two_factor_setup_required": true,
}

// Refused returns Slack's error code when err says the token or the app is
// refused for good, so that retrying cannot help.
func Refused(err error) (code string, ok bool) {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) && refusedCodes[se.Err] {
		return se.Err, true
	}
	return "", false
}

// Unreachable reports whether err is a failure to reach Slack at all (a
// name that does not resolve, a refused or dropped connection, a
// timeout) rather than an answer from it.
func Unreachable(err error) bool {
	var ne net.Error
	var ue *url.Error
	var de *net.DNSError
	return errors.As(err, &de) || errors.As(err, &ne) || errors.As(err, &ue)
}

// Explain says what a failed call means for the person reading the log:
// which setting is wrong, or that Slack cannot be reached at the
// configured URL. token names the setting that holds the token the call
// used (SLACK_BOT_TOKEN, SLACK_APP_TOKEN).
func (c *Client) Explain(method, token string, err error) error {
	if code, ok := Refused(err); ok {
		return fmt.Errorf("Slack refused %s on %s: %s (a token that was revoked, expired or is of the wrong kind: fix the setting and restart): %w", token, method, code, err)
	}
	if Unreachable(err) {
		return fmt.Errorf("cannot reach Slack at %s (%s): %w", c.apiURL, method, err)
	}
	return fmt.Errorf("slack %s: %w", method, err)
}

// APIURL is the Web API base URL the client calls.
func (c *Client) APIURL() string { return c.apiURL }

// wire watches the Socket Mode connection from below slack-go, which
// reconnects by itself and keeps why to itself: it records why each
// connection ended, and marks a failure to dial the WebSocket apart from a
// failure of apps.connections.open.
type wire struct {
	pingInterval time.Duration
	mu           sync.Mutex
	// ended holds why each dialled connection ended, oldest first. slack-go
	// reports every dialled connection as connected, and closes it before it
	// reports the next attempt, so the runner takes one reason per
	// disconnect in order.
	ended []string
}

// dialError is a failure to open the WebSocket that apps.connections.open
// pointed at.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string {
	return fmt.Sprintf("cannot reach Slack's Socket Mode WebSocket at %s: %v", e.addr, e.err)
}

func (e *dialError) Unwrap() error { return e.err }

// dialer is slack-go's own WebSocket dialer (proxy from the environment,
// the same handshake timeout and buffer) dialling through the wire.
func (w *wire) dialer() *websocket.Dialer {
	return &websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: 45 * time.Second,
		WriteBufferSize:  32 << 10,
		NetDialContext:   w.dial,
	}
}

func (w *wire) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, &dialError{addr: addr, err: err}
	}
	return &watchedConn{Conn: c, w: w}, nil
}

// why takes the reason the oldest unreported connection ended.
func (w *wire) why() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.ended) == 0 {
		return "unknown"
	}
	why := w.ended[0]
	w.ended = w.ended[1:]
	return why
}

// watchedConn is a Socket Mode connection as the wire sees it.
type watchedConn struct {
	net.Conn
	w    *wire
	once sync.Once
}

// end records why the connection ended, the first time it is told.
func (c *watchedConn) end(why string) {
	c.once.Do(func() {
		c.w.mu.Lock()
		defer c.w.mu.Unlock()
		c.w.ended = append(c.w.ended, why)
	})
}

// disconnectFrame begins Slack's request to reconnect, {"type":
// "disconnect","reason":"refresh_requested",...}: slack-go acts on it
// without telling, so the wire spots it in the bytes. An envelope cannot
// hold the phrase unescaped except as its own type, which is never this.
var (
	disconnectFrame  = []byte(`"type":"disconnect"`)
	disconnectReason = regexp.MustCompile(`"reason":"([a-z_]{1,40})"`)
)

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && bytes.Contains(p[:n], disconnectFrame) {
		reason := "unknown"
		if m := disconnectReason.FindSubmatch(p[:n]); m != nil {
			reason = string(m[1])
		}
		c.end("Slack asked the bot to reconnect (" + reason + ")")
	}
	if err != nil {
		c.end("the connection was lost: " + err.Error())
	}
	return n, err
}

// Close is slack-go closing the connection: after Slack's request to
// reconnect (recorded already), or when Slack sent no ping in time.
func (c *watchedConn) Close() error {
	c.end(fmt.Sprintf("Slack sent no ping for %s", c.w.pingInterval))
	return c.Conn.Close()
}

// connectionEvent logs and counts a change of the Socket Mode connection,
// and returns an error when Slack refused the app token, which no retry
// can fix.
func (r *Runner) connectionEvent(ctx context.Context, ev socketmode.Event) error {
	switch ev.Type {
	case socketmode.EventTypeConnecting:
		attempt := 0
		if ce, ok := ev.Data.(*slackapi.ConnectingEvent); ok {
			attempt = ce.Attempt
		}
		if r.connected.Swap(false) {
			why := r.wire.why()
			trouble := "disconnected: " + why
			r.trouble.Store(&trouble)
			r.metrics.connected.Set(0)
			r.metrics.connections.WithLabelValues("disconnected").Inc()
			r.log.InfoContext(ctx, "socket mode disconnected", "reason", why)
		}
		r.metrics.connections.WithLabelValues("connecting").Inc()
		r.log.InfoContext(ctx, "socket mode connecting", "attempt", attempt, "api_url", r.apiURL)
	case socketmode.EventTypeConnected:
		r.connected.Store(true)
		r.metrics.connected.Set(1)
		r.metrics.connections.WithLabelValues("connected").Inc()
		r.metrics.calls.WithLabelValues("apps.connections.open", "ok").Inc()
		r.trouble.Store(nil)
		r.log.InfoContext(ctx, "socket mode connected")
	case socketmode.EventTypeConnectionError:
		ce, ok := ev.Data.(*slackapi.ConnectionErrorEvent)
		if !ok {
			return nil
		}
		r.connected.Store(false)
		r.metrics.connected.Set(0)
		r.metrics.connections.WithLabelValues("failed").Inc()
		err := ce.ErrorObj
		var de *dialError
		if errors.As(err, &de) || errors.Is(err, websocket.ErrBadHandshake) {
			// apps.connections.open answered; the WebSocket it named did not.
			r.metrics.calls.WithLabelValues("apps.connections.open", "ok").Inc()
		} else {
			r.metrics.calls.WithLabelValues("apps.connections.open", classify(err)).Inc()
			err = r.explain(err)
		}
		why := err.Error()
		r.trouble.Store(&why)
		if _, refused := Refused(ce.ErrorObj); refused {
			return err
		}
		r.log.InfoContext(ctx, "socket mode connection failed, retrying", "attempt", ce.Attempt, "retry_in", ce.Backoff, "err", err)
	case socketmode.EventTypeInvalidAuth:
		r.metrics.connections.WithLabelValues("failed").Inc()
	}
	return nil
}

// explain names the setting behind a failed apps.connections.open.
func (r *Runner) explain(err error) error {
	return r.client.Explain("apps.connections.open", "SLACK_APP_TOKEN", err)
}
