package kube

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

// Images without sha256sum: the check falls back to what each has.
func TestCheckPodsWithoutSha256sum(t *testing.T) {
	t.Parallel()
	images := map[string][]string{
		"ghcr.io/alphagov/with-openssl:release": {"sh", "openssl"},
		"ghcr.io/alphagov/bare:release":         {"sh"},
	}
	if _, err := exec.LookPath("ruby"); err == nil {
		images["ghcr.io/alphagov/with-ruby:release"] = []string{"sh", "ruby"}
	} else {
		t.Log("no ruby on this machine: the ruby fallback is not tested (run `make test`)")
	}
	e := newEnv(t, &kubetest.Kubelet{Images: images}, Config{})
	ctx := testContext(t)
	tok := token.Generate()
	e.writeToken(t, testSecret, tok)

	for image := range images {
		name := strings.TrimSuffix(strings.TrimPrefix(image, "ghcr.io/alphagov/"), ":release")
		e.deployReady(t, name, "PUBLISHING_API_BEARER_TOKEN", testSecret, 1)
		consumer := flows.Consumer{Kind: "Deployment", Name: name, Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"}
		checks, err := e.client.CheckPods(ctx, consumer, tok.Fingerprint())
		if name == "bare" {
			var exit *ExitError
			if !errors.As(err, &exit) || exit.ExitStatus() != 127 || !strings.Contains(err.Error(), "no sha256sum") {
				t.Errorf("%s: CheckPods = %+v, %v; want exit 127 saying no tool can hash", name, checks, err)
			}
			continue
		}
		if err != nil || len(checks) != 1 || !checks[0].Match {
			t.Errorf("%s: CheckPods = %+v, %v; want a match", name, checks, err)
		}
	}
}

func TestCheckPodsEdgeCases(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	tok := token.Generate()
	e.writeToken(t, testSecret, tok)
	e.deployReady(t, "feedback", "PUBLISHING_API_BEARER_TOKEN", testSecret, 1)

	unset := flows.Consumer{Kind: "Deployment", Name: "feedback", Container: "app", Variable: "SUPPORT_API_BEARER_TOKEN", Via: "env"}
	checks, err := e.client.CheckPods(ctx, unset, tok.Fingerprint())
	if err != nil || len(checks) != 1 || checks[0].Match || checks[0].Fingerprint != "" {
		t.Errorf("unset variable: %+v, %v; want no fingerprint and no match", checks, err)
	}
	for _, bad := range []flows.Consumer{
		{Kind: "Deployment", Name: "feedback", Container: "app", Variable: `X"; cat /etc/passwd; "`},
		{Kind: "CronJob", Name: "feedback-nightly", Container: "task", Variable: "PUBLISHING_API_BEARER_TOKEN"},
	} {
		if _, err := e.client.CheckPods(ctx, bad, tok.Fingerprint()); !errors.Is(err, flows.ErrBadInput) {
			t.Errorf("CheckPods(%+v): %v, want ErrBadInput", bad, err)
		}
	}
	missing := flows.Consumer{Kind: "Deployment", Name: "feedback", Container: "sidecar", Variable: "PUBLISHING_API_BEARER_TOKEN"}
	if _, err := e.client.CheckPods(ctx, missing, tok.Fingerprint()); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("a container no pod has: %v, want ErrNotFound", err)
	}
}

// The Signon integration's runner: stdin in, stdout and stderr out, the
// exit status back, through the real apiserver and the test kubelet.
func TestPodRunner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{SignonDeployment: "signon"})
	ctx := testContext(t)
	e.writeToken(t, "signon-token-signon-signon-api", token.Generate())
	e.deployReady(t, "signon", "SIGNON_API_BEARER_TOKEN", "signon-token-signon-signon-api", 1)

	var stdout, stderr bytes.Buffer
	err := e.client.SignonRunner().Run(ctx, []string{"sh", "-c", `tr a-z A-Z; echo "to stderr" >&2; exit 4`}, strings.NewReader("script from stdin\n"), &stdout, &stderr)
	var status interface{ ExitStatus() int }
	if !errors.As(err, &status) || status.ExitStatus() != 4 {
		t.Fatalf("Run = %v, want an error with ExitStatus 4", err)
	}
	if stdout.String() != "SCRIPT FROM STDIN\n" || stderr.String() != "to stderr\n" {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}

	const n = 10
	began := time.Now()
	for range n {
		if err := e.client.Runner("signon", "app").Run(ctx, []string{"true"}, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("exec round trip (find a ready pod, exec `true` through the apiserver): %s", (time.Since(began) / n).Round(time.Millisecond))

	if err := e.client.Runner("no-such-app", "app").Run(ctx, []string{"true"}, nil, nil, nil); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("Run in a missing Deployment: %v, want ErrNotFound", err)
	}
}
