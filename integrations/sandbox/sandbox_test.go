package sandbox_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/sandbox"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// remoteWorld is the Signon double reached through the sandbox: world
// building goes to the double, the operations over HTTP.
type remoteWorld struct {
	*signontest.Signon
	remote *sandbox.Client
}

func (w remoteWorld) FindAPIUser(ctx context.Context, email string) (flows.APIUser, error) {
	return w.remote.FindAPIUser(ctx, email)
}
func (w remoteWorld) Tokens(ctx context.Context, email, app string) (flows.TokenSet, error) {
	return w.remote.Tokens(ctx, email, app)
}
func (w remoteWorld) Expiring(ctx context.Context, within time.Duration) ([]flows.ExpiringToken, error) {
	return w.remote.Expiring(ctx, within)
}
func (w remoteWorld) Estate(ctx context.Context, within time.Duration) (flows.Estate, error) {
	return w.remote.Estate(ctx, within)
}
func (w remoteWorld) Issue(ctx context.Context, req flows.IssueRequest) (flows.Issued, error) {
	return w.remote.Issue(ctx, req)
}
func (w remoteWorld) Reveal(ctx context.Context, req flows.RevealRequest) (flows.Revealed, error) {
	return w.remote.Reveal(ctx, req)
}
func (w remoteWorld) Revoke(ctx context.Context, req flows.RevokeRequest) (flows.Revoked, error) {
	return w.remote.Revoke(ctx, req)
}

func serve(t *testing.T, env flows.Env) *sandbox.Client {
	t.Helper()
	srv := httptest.NewServer(&sandbox.Server{Envs: map[string]flows.Env{"integration": env}})
	t.Cleanup(srv.Close)
	c, err := sandbox.Dial(context.Background(), srv.URL, "integration")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The Signon conformance table passes through the sandbox: results, the
// plaintext of an issued token and every error kind survive the trip.
func TestSignonConformanceThroughTheSandbox(t *testing.T) {
	signontest.Run(t, func(t *testing.T) signontest.World {
		double := signontest.New(nil)
		double.ServiceIdentity = signontest.SuiteServiceIdentity
		return remoteWorld{Signon: double, remote: serve(t, flows.Env{Signon: double, Cluster: &clustertest.Cluster{}})}
	})
}

func TestClusterThroughTheSandbox(t *testing.T) {
	double := signontest.New(nil)
	double.AddAPIUser("Content Tagger", "content-tagger@alphagov.co.uk")
	double.AddApplication("Publishing API")
	_, tok := double.AddToken("content-tagger@alphagov.co.uk", "Publishing API", time.Now().Add(-time.Hour), 24*time.Hour)
	cl := &clustertest.Cluster{Tokens: double}
	secret := cl.AddSecret("Content Tagger", "Publishing API")
	cl.AddDeployment("content-tagger", "app", "PUBLISHING_API_BEARER_TOKEN", secret)
	c := serve(t, flows.Env{Signon: double, Cluster: cl})
	ctx := context.Background()

	if ns, cj := c.Location(); ns != "apps" || cj != "signon-sync-token-secrets-to-k8s" {
		t.Errorf("Location = %s, %s", ns, cj)
	}
	if got := c.SecretName("Content Tagger", "Publishing API"); got != secret {
		t.Errorf("SecretName = %s, want %s", got, secret)
	}
	st, err := c.Secret(ctx, secret)
	if err != nil || st.Fingerprint != tok.Fingerprint() {
		t.Fatalf("Secret = %+v, %v", st, err)
	}
	cons, err := c.Consumers(ctx, secret)
	if err != nil || len(cons) != 1 {
		t.Fatalf("Consumers = %+v, %v", cons, err)
	}
	job, err := c.StartSync(ctx, "r-abc.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.StartSync(ctx, "r-abc.1", time.Now()); again.Name != job.Name {
		t.Errorf("StartSync is not idempotent through the sandbox: %s then %s", job.Name, again.Name)
	}
	if res, err := c.WaitSync(ctx, job.Name, secret, nil); err != nil || !res.Succeeded {
		t.Fatalf("WaitSync = %+v, %v", res, err)
	}
	checks, err := c.CheckPods(ctx, cons[0], tok.Fingerprint())
	if err != nil || len(checks) != 1 || !checks[0].Match {
		t.Fatalf("CheckPods = %+v, %v", checks, err)
	}
	if _, err := c.WaitSync(ctx, "no-such-job", secret, nil); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("an unknown Job: %v, want ErrNotFound", err)
	}
	cl.NoReloader = true
	if err := c.RestartDeployment(ctx, "nope", time.Now()); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("restart of an unknown Deployment: %v", err)
	}
	var fp token.Fingerprint = "0000000000000000"
	if checks, _ := c.CheckPods(ctx, cons[0], fp); checks[0].Match {
		t.Error("a wrong fingerprint matched")
	}
}

func TestSandboxDown(t *testing.T) {
	srv := httptest.NewServer(&sandbox.Server{Envs: map[string]flows.Env{"integration": {Signon: signontest.New(nil), Cluster: &clustertest.Cluster{}}}})
	c, err := sandbox.Dial(context.Background(), srv.URL, "integration")
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if _, err := c.Tokens(context.Background(), "a@b.c", "x"); !errors.Is(err, flows.ErrUnavailable) {
		t.Fatalf("a sandbox that is gone: %v, want ErrUnavailable", err)
	}
	if _, err := sandbox.Dial(context.Background(), srv.URL, "integration"); err == nil {
		t.Fatal("Dial of a closed sandbox succeeded")
	}
}
