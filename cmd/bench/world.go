package main

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/sandbox"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// The people and channels of every benchmark. Alice and Bob may start
// runs and pass gates; Mallory is in the channels with no role.
const (
	alice         = "U0ALICE"
	bob           = "U0BOB"
	mallory       = "U0MALLORY"
	alertsChannel = "C0ALERTS"
	opsChannel    = "C0OPS"
)

// applications are the Signon applications the benchmark tokens are for.
var applications = []string{"Publishing API", "Content Store", "Asset Manager", "Email Alert API"}

// expiring names one of the world's expiring tokens: what an alert or a
// /rotate-token names.
type expiring struct {
	Email, Application string
}

// Key is the token's key in env.
func (t expiring) Key(env string) flows.Key {
	return flows.Key{Environment: env, APIUser: t.Email, Application: flows.Parameterize(t.Application)}
}

// world is the environments' Signon and cluster, served to the bot by a
// sandbox server on loopback. Every token in it expires within the alert's
// window, was used an hour ago, and is read by one Deployment.
type world struct {
	Signon  map[string]*signontest.Signon
	Cluster map[string]*clustertest.Cluster
	Tokens  map[string][]expiring
	envs    map[string]flows.Env
	srv     *httptest.Server
}

// newWorld makes n expiring tokens in each environment named, on the wall
// clock (the bot runs on it).
func newWorld(h *harness, tokens map[string]int) *world {
	w := &world{envs: map[string]flows.Env{}, Signon: map[string]*signontest.Signon{}, Cluster: map[string]*clustertest.Cluster{}, Tokens: map[string][]expiring{}}
	clock := flows.SystemClock{}
	now := clock.Now()
	for env, n := range tokens {
		sig := signontest.New(clock)
		for _, a := range applications {
			sig.AddApplication(a)
		}
		cl := &clustertest.Cluster{Tokens: sig, Clock: clock}
		for i := range n {
			name := fmt.Sprintf("Bench %s %05d", env, i)
			email := strings.ToLower(fmt.Sprintf("bench-%s-%05d@alphagov.co.uk", env, i))
			app := applications[i%len(applications)]
			sig.AddAPIUser(name, email)
			created := now.AddDate(-2, 0, 1+i%13)
			sig.AddToken(email, app, created, now.AddDate(0, 0, 1+i%13).Sub(created))
			sig.SetLastSynced(email, app, now.Add(-time.Hour))
			secret := cl.AddSecret(name, app)
			variable := strings.ToUpper(strings.ReplaceAll(flows.Parameterize(app), "-", "_")) + "_BEARER_TOKEN"
			cl.AddDeployment(flows.Parameterize(name), "app", variable, secret)
			w.Tokens[env] = append(w.Tokens[env], expiring{Email: email, Application: app})
		}
		w.Signon[env], w.Cluster[env] = sig, cl
		w.envs[env] = flows.Env{Signon: sig, Cluster: cl}
	}
	w.srv = httptest.NewServer(&sandbox.Server{Envs: w.envs})
	h.Cleanup(w.srv.Close)
	return w
}

// Envs are the environments' backends, for an engine in this process.
func (w *world) Envs() map[string]flows.Env { return w.envs }

// URL is the sandbox's address, for the bot's configuration.
func (w *world) URL() string { return w.srv.URL }

// newSlack is a fake Slack workspace with the benchmark's people and
// channels. limits, when set, makes it answer calls over Slack's
// published rate limits with 429.
func newSlack(h *harness, limits bool) *slacktest.Server {
	fake := &slacktest.Server{T: h, EnforceRateLimits: limits, Logf: func(string, ...any) {}}
	h.Cleanup(fake.Close)
	fake.AddUser(slacktest.User{ID: alice, Name: "alice", Email: "alice@digital.cabinet-office.gov.uk"})
	fake.AddUser(slacktest.User{ID: bob, Name: "bob", Email: "bob@digital.cabinet-office.gov.uk"})
	fake.AddUser(slacktest.User{ID: mallory, Name: "mallory", Email: "mallory@example.com"})
	fake.AddChannel(alertsChannel, "govuk-alerts", alice, bob, mallory, fake.BotUserID)
	fake.AddChannel(opsChannel, "govuk-ops", alice, bob, mallory, fake.BotUserID)
	return fake
}
