package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// Client reaches one environment of a sandbox Server. It implements both
// flows.Signon and flows.Cluster.
type Client struct {
	base string
	http *http.Client
	// location is asked once: Location has no context or error to return.
	location [2]string
}

// Dial checks that the sandbox at baseURL serves env and returns its
// client.
func Dial(ctx context.Context, baseURL, env string) (*Client, error) {
	c := &Client{base: strings.TrimSuffix(baseURL, "/") + "/" + env + "/", http: &http.Client{}}
	if err := c.call(ctx, "Location", &c.location); err != nil {
		return nil, fmt.Errorf("sandbox %s, environment %s: %w", baseURL, env, err)
	}
	return c, nil
}

// Backend makes each environment's Signon and cluster by dialing baseURL:
// how cmd/sandboxbot wires the bot to a sandbox.
func Backend(baseURL string) func(context.Context, string) (flows.Env, error) {
	return func(ctx context.Context, env string) (flows.Env, error) {
		c, err := Dial(ctx, baseURL, env)
		if err != nil {
			return flows.Env{}, err
		}
		return flows.Env{Signon: c, Cluster: c}, nil
	}
}

func (c *Client) call(ctx context.Context, method string, out any, in ...any) error {
	req := request{Args: make([]json.RawMessage, len(in))}
	for i, a := range in {
		b, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("sandbox %s: encode argument %d: %w", method, i, err)
		}
		req.Args[i] = b
	}
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+method, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(hr)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w: %v", method, flows.ErrUnavailable, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w: %v", method, flows.ErrUnavailable, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("sandbox %s: HTTP %d: %s", method, res.StatusCode, bytes.TrimSpace(raw))
	}
	var resp response
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("sandbox %s: decode: %w", method, err)
	}
	if resp.Error != nil {
		return fromWire(resp.Error)
	}
	if out == nil || len(resp.Result) == 0 {
		return nil
	}
	return json.Unmarshal(resp.Result, out)
}

func (c *Client) FindAPIUser(ctx context.Context, email string) (u flows.APIUser, err error) {
	return u, c.call(ctx, "FindAPIUser", &u, email)
}

func (c *Client) Tokens(ctx context.Context, email, application string) (ts flows.TokenSet, err error) {
	return ts, c.call(ctx, "Tokens", &ts, email, application)
}

func (c *Client) Expiring(ctx context.Context, within time.Duration) (out []flows.ExpiringToken, err error) {
	return out, c.call(ctx, "Expiring", &out, within)
}

// Estate passes Signon's estate report through, so that a bot wired to
// the sandbox can run its daily sweep.
func (c *Client) Estate(ctx context.Context, within time.Duration) (e flows.Estate, err error) {
	return e, c.call(ctx, "Estate", &e, within)
}

func (c *Client) Issue(ctx context.Context, req flows.IssueRequest) (flows.Issued, error) {
	var res issued
	err := c.call(ctx, "Issue", &res, req)
	out := res.Issued
	out.Secret = token.NewSecret(res.Plaintext)
	return out, err
}

func (c *Client) Revoke(ctx context.Context, req flows.RevokeRequest) (r flows.Revoked, err error) {
	return r, c.call(ctx, "Revoke", &r, req)
}

func (c *Client) Reveal(ctx context.Context, req flows.RevealRequest) (flows.Revealed, error) {
	var res revealed
	err := c.call(ctx, "Reveal", &res, req)
	out := res.Revealed
	out.Secret = token.NewSecret(res.Plaintext)
	return out, err
}

func (c *Client) Location() (namespace, cronJob string) { return c.location[0], c.location[1] }

// SecretName follows the sync task's rule without a round trip.
func (c *Client) SecretName(apiUserName, application string) string {
	return flows.Parameterize("signon-token-" + apiUserName + "-" + application)
}

func (c *Client) Secret(ctx context.Context, name string) (s flows.SecretState, err error) {
	return s, c.call(ctx, "Secret", &s, name)
}

func (c *Client) Consumers(ctx context.Context, secret string) (out []flows.Consumer, err error) {
	return out, c.call(ctx, "Consumers", &out, secret)
}

// SecretReaders passes the cluster's readers of every Secret through, for
// the daily sweep.
func (c *Client) SecretReaders(ctx context.Context) (out map[string][]flows.Consumer, err error) {
	return out, c.call(ctx, "SecretReaders", &out)
}

func (c *Client) StartSync(ctx context.Context, runID string, at time.Time) (j flows.SyncJob, err error) {
	return j, c.call(ctx, "StartSync", &j, runID, at)
}

// WaitSync waits for the Job; the sandbox reports no progress.
func (c *Client) WaitSync(ctx context.Context, job, secret string, _ func(flows.SyncProgress)) (r flows.SyncResult, err error) {
	return r, c.call(ctx, "WaitSync", &r, job, secret)
}

func (c *Client) WaitRollout(ctx context.Context, deployment string, since time.Time, startTimeout time.Duration) (r flows.Rollout, err error) {
	return r, c.call(ctx, "WaitRollout", &r, deployment, since, startTimeout)
}

func (c *Client) RestartDeployment(ctx context.Context, deployment string, at time.Time) error {
	return c.call(ctx, "RestartDeployment", nil, deployment, at)
}

func (c *Client) CheckPods(ctx context.Context, con flows.Consumer, want token.Fingerprint) (out []flows.PodCheck, err error) {
	return out, c.call(ctx, "CheckPods", &out, con, want)
}

func (c *Client) LiveCheck(ctx context.Context, con flows.Consumer, application string) (lc flows.LiveCheck, err error) {
	return lc, c.call(ctx, "LiveCheck", &lc, con, application)
}

// Explain passes the stand-in's reading of why consumers missed a token.
func (c *Client) Explain(ctx context.Context, secret string, since time.Time, consumers []flows.Consumer) (lines []string, err error) {
	return lines, c.call(ctx, "Explain", &lines, secret, since, consumers)
}

// estate and secretReaders are the daily sweep's ports (daily.Estate,
// daily.Workloads), declared here so that the sandbox need not import
// the sweep.
type (
	estate interface {
		Estate(ctx context.Context, within time.Duration) (flows.Estate, error)
	}
	secretReaders interface {
		SecretReaders(ctx context.Context) (map[string][]flows.Consumer, error)
	}
)

var (
	_ flows.Signon  = (*Client)(nil)
	_ flows.Cluster = (*Client)(nil)
	_ estate        = (*Client)(nil)
	_ secretReaders = (*Client)(nil)
)

var _ flows.Explainer = (*Client)(nil)
