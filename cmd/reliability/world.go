package main

import (
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// tokenSpec is one token lineage the harness rotates: an API user of its
// own with an old token about to expire, its Secret and the Deployments
// that read it (none for a consumer outside the cluster).
type tokenSpec struct {
	n           int // its place in the harness's order, in its names
	name, email string
	key         flows.Key
	old         flows.Token
	deployments []string
}

func (s *tokenSpec) external() bool { return len(s.deployments) == 0 }

// newSpec adds a fresh API user to the Signon double, with a token that
// expires in 9 days (inside the alert's 14) and was used an hour ago, and
// its Secret and consumers to the cluster stand-in.
func (h *harness) newSpec(external bool) *tokenSpec {
	s := h.newAPIUser("Reliability Bot")
	now := time.Now()
	created := now.AddDate(-2, 0, 9)
	s.old, _ = h.signon.AddToken(s.email, appName, created, now.AddDate(0, 0, 9).Sub(created))
	h.signon.SetLastSynced(s.email, appName, now.Add(-time.Hour))
	h.addConsumers(s, !external)
	return s
}

// newAPIUser adds an API user of its own to the Signon double, with a
// hostile name, and registers its lineage; it has no token yet.
func (h *harness) newAPIUser(kind string) *tokenSpec {
	h.mu.Lock()
	h.nextSpec++
	n := h.nextSpec
	h.mu.Unlock()
	s := &tokenSpec{
		n:     n,
		name:  fmt.Sprintf("%s %d %s", kind, n, hostileName),
		email: fmt.Sprintf("reliability-bot-%d@alphagov.co.uk", n),
	}
	s.key = flows.Key{Environment: env, APIUser: s.email, Application: appSlug}
	h.signon.AddAPIUser(s.name, s.email)
	h.mu.Lock()
	h.specs[s.email] = s
	h.mu.Unlock()
	return s
}

// addConsumers adds the lineage's Secret, written now from Signon's newest
// token as a sync would, and with inCluster two Deployments that read it.
func (h *harness) addConsumers(s *tokenSpec, inCluster bool) {
	secret := h.cluster.AddSecret(s.name, appName)
	if !inCluster {
		return
	}
	s.deployments = []string{fmt.Sprintf("rb-%d", s.n), fmt.Sprintf("rb-%d-worker", s.n)}
	for _, d := range s.deployments {
		h.cluster.AddDeployment(d, "app", variable, secret)
	}
}

// injectedUser is the Slack user every API user's name tries to mention,
// in Slack's syntax and in the flows' own marker; the leak scan counts
// any mention of it that reaches Slack.
const (
	injectedUser = "U0INJECTED"
	hostileName  = "@{" + injectedUser + "} <@" + injectedUser + "> <!channel>"
)

// spec finds a lineage by its API user's email.
func (h *harness) spec(email string) *tokenSpec {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.specs[email]
}
