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
	h.mu.Lock()
	h.nextSpec++
	n := h.nextSpec
	h.mu.Unlock()
	s := &tokenSpec{
		name:  fmt.Sprintf("Reliability Bot %d %s", n, hostileName),
		email: fmt.Sprintf("reliability-bot-%d@alphagov.co.uk", n),
	}
	s.key = flows.Key{Environment: env, APIUser: s.email, Application: appSlug}
	h.signon.AddAPIUser(s.name, s.email)
	now := time.Now()
	created := now.AddDate(-2, 0, 9)
	s.old, _ = h.signon.AddToken(s.email, appName, created, now.AddDate(0, 0, 9).Sub(created))
	h.signon.SetLastSynced(s.email, appName, now.Add(-time.Hour))
	secret := h.cluster.AddSecret(s.name, appName)
	if !external {
		s.deployments = []string{fmt.Sprintf("rb-%d", n), fmt.Sprintf("rb-%d-worker", n)}
		for _, d := range s.deployments {
			h.cluster.AddDeployment(d, "app", variable, secret)
		}
	}
	h.mu.Lock()
	h.specs[s.email] = s
	h.mu.Unlock()
	return s
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
