package kube

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

// TestEveryCallToAHungApiserverEndsAtItsTimeout: behind a link that stops
// passing bytes (open connections stay open, new ones are accepted, as
// with an apiserver that has stopped answering), every single call the
// client makes gives up after CallTimeout with ErrTimeout, and the client
// works again once the apiserver answers.
func TestEveryCallToAHungApiserverEndsAtItsTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	e.mustCreate(t, kubetest.SyncCronJob(e.ns))
	e.writeToken(t, testSecret, token.Generate())
	e.deployReady(t, "content-tagger", "PUBLISHING_API_BEARER_TOKEN", testSecret, 1)
	link := kubetest.NewLink(t, e.cp.Config.Host)
	rc := rest.CopyConfig(e.cp.Config)
	rc.Host = "https://" + link.Addr()
	const bound = time.Second
	c := e.clientAs(t, rc, Config{CallTimeout: bound})
	// A first call opens the connection the hang then holds.
	if _, err := c.Secret(ctx, testSecret); err != nil {
		t.Fatal(err)
	}

	link.Hang()
	consumer := flows.Consumer{Kind: "Deployment", Name: "content-tagger", Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"}
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"get secret", func() error { _, err := c.Secret(ctx, testSecret); return err }},
		{"list deployments", func() error { _, err := c.Consumers(ctx, testSecret); return err }},
		{"get cronjob", func() error { _, err := c.StartSync(ctx, "r-1.1", time.Now()); return err }},
		{"patch deployment", func() error { return c.RestartDeployment(ctx, "content-tagger", time.Now()) }},
		{"find the pod to exec in", func() error { _, err := c.CheckPods(ctx, consumer, token.Generate().Fingerprint()); return err }},
	} {
		start := time.Now()
		err := call.do()
		took := time.Since(start)
		if !errors.Is(err, flows.ErrTimeout) || !strings.Contains(err.Error(), "no answer within 1s") {
			t.Errorf("%s: %v, want a timeout saying there was no answer within 1s", call.name, err)
		}
		if took < bound || took > bound+5*time.Second {
			t.Errorf("%s took %v, want about %v", call.name, took, bound)
		}
	}

	link.Mend()
	if _, err := c.Consumers(ctx, testSecret); err != nil {
		t.Errorf("after the apiserver answers again: %v", err)
	}
}
