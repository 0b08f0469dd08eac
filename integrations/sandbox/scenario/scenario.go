// Package scenario holds the stories the bot is shown in: for each, the
// world (the people and the alert channel in the fake Slack, the API users
// and tokens in the Signon double, the Secrets and consumer pods in the
// cluster stand-in), the Alertmanager message that starts it, the clicks a
// scripted operator makes, and the check that it played out as designed.
//
// cmd/demo plays them against the bot in one process; anything that
// drives the bot through the fake Slack (a benchmark, a crash harness
// with the bot in a child process) can play them too: a Driver needs only
// the fake and the bot's state store.
package scenario

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube/clustertest"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// The scenarios, by the names `bot demo -scenario` takes.
const (
	Alert         = "alert"
	Grouped       = "grouped"
	AutoRenewed   = "auto-renewed"
	External      = "external"
	VerifyFailure = "verify-failure"
	Disused       = "disused"
	LegacyToken   = "legacy-token"
	RotateAll     = "rotate-all"
	Autopilot     = "autopilot"
	Superseded    = "superseded"
)

// Person is someone in the workspace. Alice and Bob may start rotations
// and pass gates in the scenarios' environment.
type Person struct {
	ID, Name, Email string
}

// The people and the place of every scenario.
var (
	Alice = Person{ID: "U0ALICE", Name: "alice", Email: "alice@digital.cabinet-office.gov.uk"}
	Bob   = Person{ID: "U0BOB", Name: "bob", Email: "bob@digital.cabinet-office.gov.uk"}
)

const (
	// Channel is the alert channel.
	Channel     = "C0ALERTS"
	ChannelName = "govuk-content-apis-system-alerts"
	// Environment is where every scenario rotates: production, so the
	// revoke needs a second person.
	Environment = flows.Production
)

// People lists Alice and Bob.
func People() []Person { return []Person{Alice, Bob} }

// PersonByID finds Alice or Bob.
func PersonByID(id string) (Person, bool) {
	i := slices.IndexFunc(People(), func(p Person) bool { return p.ID == id })
	if i < 0 {
		return Person{}, false
	}
	return People()[i], true
}

// Info names a scenario and says in a line what it shows.
type Info struct {
	Name, Summary string
	// Swept is the environment whose daily sweep starts the scenario, or
	// "" when an alert does.
	Swept string
}

var catalogue = []Info{
	{Alert, "an alert for one production token: Alice rotates it and runs the sync, Bob revokes the old token", ""},
	{Grouped, "a grouped alert that names no token: the bot finds three expiring tokens in Signon and Rotate all rotates them as one batch", ""},
	{RotateAll, "a grouped alert: Alice presses Rotate all 3 and runs the sync once for the three, Bob confirms one revoke for all three old tokens", ""},
	{AutoRenewed, "Signon's nightly auto-rotation already made and synced a newer token: no token is issued, Bob revokes the old one", ""},
	{External, "no workload in the cluster reads the token: Alice alone sees the new token in a private modal and confirms its delivery", ""},
	{VerifyFailure, "a consumer keeps the old token after the sync: Alice rolls back, the new token is revoked and the old one stays", ""},
	{Disused, "the token has not been used for three months: Alice chooses Revoke (disused) instead of rotating, Bob confirms", ""},
	{LegacyToken, "a 10-year token from before 2019 outlives any new token, so the sync job would never write one: the bot explains, offers no Rotate, and changes nothing", ""},
	{Autopilot, "the clock passes 02:00 and integration's daily sweep posts its digest; under autopilot full the bot rotates a token whose renewal failed with no click, and leaves the external user's to a person", flows.Integration},
	{Superseded, "the clock passes 02:00 and production's daily sweep finds a token Signon's renewal left unrevoked: under to-gates the clean-up verifies the consumers and stops at the revoke question, which Bob confirms", flows.Production},
}

// List returns every scenario, the default (alert) first.
func List() []Info { return slices.Clone(catalogue) }

// UnknownError names a scenario that does not exist.
type UnknownError struct {
	Name string
}

func (e *UnknownError) Error() string {
	names := make([]string, len(catalogue))
	for i, s := range catalogue {
		names[i] = s.Name
	}
	return fmt.Sprintf("unknown scenario %q: choose one of %s", e.Name, strings.Join(names, ", "))
}

// Press is one click of the scripted operator: who presses which button,
// by its text, once the bot has settled.
type Press struct {
	User   Person
	Button string
}

// World is one scenario, built and not yet played.
type World struct {
	Info
	Signon  *signontest.Signon
	Cluster *clustertest.Cluster
	// Alert is the Alertmanager attachment that starts the scenario.
	Alert slackapi.Attachment
	// Script is what the scripted operator presses, in order.
	Script []Press

	// Sweep is set when the daily sweep, not an alert, starts the scenario.
	Sweep *Sweep

	clock   flows.Clock
	expects []*expect
	// jobs is how many sync Jobs the bot should have created.
	jobs int
}

// expect is what should become of one API user's token.
type expect struct {
	user, email, app string
	// old is the token the alert is about; renewed the newer one Signon's
	// auto-rotation made, if any.
	old, renewed flows.Token
	tokens       int // tokens in Signon before the run
	consumers    []consumer

	mode  flows.Mode
	phase flows.Phase
	// issued is how many tokens the run makes (0 or 1).
	issued int
	// keep is the token that should be live at the end and held by the
	// consumers: "new" (the run's) or "old".
	keep string
	// reveal: the requester must have been shown the new token privately.
	reveal bool
	// explained: the bot must start no run and change nothing, and its
	// offer must carry this explanation instead of buttons.
	explained string
	// left, with explained, says why the bot leaves the token alone.
	left string
}

// New builds the named scenario's world with tokens dated by clock, which
// must be the bot's.
func New(name string, clock flows.Clock) (*World, error) {
	i := slices.IndexFunc(catalogue, func(s Info) bool { return s.Name == name })
	if i < 0 {
		return nil, &UnknownError{Name: name}
	}
	if clock == nil {
		return nil, errors.New("scenario: a clock is required: the bot's")
	}
	w := &World{Info: catalogue[i], clock: clock}
	w.Signon = signontest.New(clock)
	w.Cluster = &clustertest.Cluster{Tokens: w.Signon, Clock: clock}
	for _, p := range People() {
		// Superadmins: Signon records them as the initiator of their changes.
		w.Signon.AddSuperadmin(strings.ToUpper(p.Name[:1])+p.Name[1:], p.Email)
	}
	alice, bob := Alice, Bob
	switch name {
	case Alert:
		e := w.expiring("Content Tagger", "content-tagger@alphagov.co.uk", "Email Alert API", 9, time.Hour)
		w.consume(e, "content-tagger")
		// The bot's smoke test: a call with the new token from a pod.
		w.Cluster.LiveChecks = map[string]bool{"email-alert-api": true}
		e.done()
		w.Alert = alertFor(e.email, flows.Parameterize(e.app))
		w.Script = []Press{{alice, "Rotate"}, {alice, "Run sync"}, {bob, "Revoke old token"}}
		w.jobs = 1
	case Grouped, RotateAll:
		a := w.expiring("Account API", "account-api@alphagov.co.uk", "Publishing API", 3, 2*time.Hour)
		w.consume(a, "account-api")
		f := w.expiring("Feedback", "feedback@alphagov.co.uk", "Support API", 6, 20*time.Minute)
		w.consume(f, "feedback", "draft-feedback")
		n := w.expiring("Frontend", "frontend@alphagov.co.uk", "Asset Manager", 12, 5*time.Minute)
		w.consume(n, "frontend")
		// Not due: Signon's expiry report leaves it out of the offer.
		w.Signon.AddApplication("Email Alert API")
		w.Signon.AddAPIUser("Content Tagger", "content-tagger@alphagov.co.uk")
		created := clock.Now().AddDate(-1, 0, 0)
		w.Signon.AddToken("content-tagger@alphagov.co.uk", "Email Alert API", created, 2*365*24*time.Hour)
		for _, e := range []*expect{a, f, n} {
			e.done()
		}
		w.Alert = alertmanager(3, "")
		// One batch: one sync confirmation and one revoke confirmation.
		w.Script = []Press{{alice, "Rotate all 3"}, {alice, "Run sync for 3 tokens"}, {bob, "Revoke 3 old tokens"}}
		// The three runs enter the sync step together: one Job.
		w.jobs = 1
	case AutoRenewed:
		e := w.expiring("Content Tagger", "content-tagger@alphagov.co.uk", "Email Alert API", 9, time.Hour)
		// 01:00 today, as the CronJob signon-auto-rotate-internal-tokens
		// does; its sync at 01:09 wrote it and the consumers rolled.
		e.renewed, _ = w.Signon.AddToken(e.email, e.app, clock.Now().Add(-8*time.Hour), 2*365*24*time.Hour)
		e.tokens++
		w.consume(e, "content-tagger")
		e.done()
		e.issued = 0
		w.Alert = alertFor(e.email, flows.Parameterize(e.app))
		w.Script = []Press{{alice, "Rotate"}, {bob, "Revoke old token"}}
	case External:
		e := w.expiring("Partner Feed", "partner-feed@alphagov.co.uk", "Content Store", 5, 30*time.Minute)
		// The sync job writes its Secret, but nothing in the cluster reads it.
		w.Cluster.AddSecret(e.user, e.app)
		e.done()
		e.reveal = true
		w.Alert = alertFor(e.email, flows.Parameterize(e.app))
		w.Script = []Press{{alice, "Rotate"}, {alice, "Reveal token"}, {alice, "Delivered"}, {bob, "Revoke old token"}}
	case VerifyFailure:
		e := w.expiring("Collections", "collections@alphagov.co.uk", "Email Alert API", 7, 10*time.Minute)
		w.consume(e, "collections", "draft-collections")
		// It cached the token: it rolls, and still sends the old one.
		w.Cluster.Stuck = map[string]bool{"draft-collections": true}
		e.mode, e.phase, e.issued, e.keep = flows.ModeRotate, flows.PhaseRolledBack, 1, "old"
		w.Alert = alertFor(e.email, flows.Parameterize(e.app))
		w.Script = []Press{{alice, "Rotate"}, {alice, "Run sync"}, {bob, "Roll back"}}
		// The sync, and the one that puts the old token back.
		w.jobs = 2
	case LegacyToken:
		e := w.expiring("Whitehall", "whitehall@alphagov.co.uk", "Asset Manager", 8, 2*time.Hour)
		w.consume(e, "whitehall-admin")
		// Made in December 2018, when tokens lived 10 years: the sync job
		// writes it, and will until 2028, whatever is issued now.
		legacy, _ := w.Signon.AddToken(e.email, e.app, clock.Now().AddDate(-8, 0, 10), 10*365*24*time.Hour)
		e.tokens++
		e.explained = fmt.Sprintf("Token #%d (fingerprint %s) expires", legacy.ID, legacy.Fingerprint.Short())
		w.Alert = alertFor(e.email, flows.Parameterize(e.app))
	case Disused:
		e := w.expiring("Licence Finder", "licence-finder@alphagov.co.uk", "Publishing API", 10, 94*24*time.Hour)
		w.Cluster.AddSecret(e.user, e.app)
		e.mode, e.phase, e.issued, e.keep = flows.ModeRevokeDisused, flows.PhaseDone, 0, ""
		w.Alert = alertFor(e.email, flows.Parameterize(e.app))
		w.Script = []Press{{alice, "Revoke (disused)"}, {bob, "Revoke token"}}
	case Autopilot:
		w.autopilot()
	case Superseded:
		w.superseded(bob)
	}
	return w, nil
}

// expiring adds an API user whose token for app expires in days and was
// last used lastUsed ago.
func (w *World) expiring(user, email, app string, days int, lastUsed time.Duration) *expect {
	now := w.clock.Now()
	w.Signon.AddAPIUser(user, email)
	w.Signon.AddApplication(app)
	// Six hours past the day, so that "in N days" stays N while the demo
	// runs.
	expires := now.AddDate(0, 0, days).Add(6 * time.Hour)
	created := expires.AddDate(-2, 0, 0)
	old, _ := w.Signon.AddToken(email, app, created, expires.Sub(created))
	w.Signon.SetLastSynced(email, app, now.Add(-lastUsed))
	e := &expect{user: user, email: email, app: app, old: old, tokens: 1}
	w.expects = append(w.expects, e)
	return e
}

// consumer is a Deployment's variable that holds the token.
type consumer struct {
	deployment, variable string
}

// consume adds Deployments that read the token's Secret, as GOV.UK's
// apps do: UPPER_SNAKE(application)_BEARER_TOKEN.
func (w *World) consume(e *expect, deployments ...string) {
	secret := w.Cluster.AddSecret(e.user, e.app)
	variable := strings.ToUpper(strings.ReplaceAll(flows.Parameterize(e.app), "-", "_")) + "_BEARER_TOKEN"
	for _, d := range deployments {
		w.Cluster.AddDeployment(d, "app", variable, secret)
		e.consumers = append(e.consumers, consumer{deployment: d, variable: variable})
	}
}

// done: the token is rotated, the old one revoked.
func (e *expect) done() {
	e.mode, e.phase, e.issued, e.keep = flows.ModeRotate, flows.PhaseDone, 1, "new"
}

// Envs are the backends the bot is given: the scenario's environment.
func (w *World) Envs() map[string]flows.Env {
	return map[string]flows.Env{w.Environment(): {Signon: w.Signon, Cluster: w.Cluster}}
}

// Environment is where the scenario rotates: the swept one, or production.
func (w *World) Environment() string {
	if w.Sweep != nil {
		return w.Sweep.Environment
	}
	return Environment
}

// Setup adds the people and the alert channel, with the bot in it, to the
// fake Slack.
func (w *World) Setup(fake *slacktest.Server) {
	var members []string
	for _, p := range People() {
		fake.AddUser(slacktest.User{ID: p.ID, Name: p.Name, RealName: strings.ToUpper(p.Name[:1]) + p.Name[1:], Email: p.Email})
		members = append(members, p.ID)
	}
	fake.AddChannel(Channel, ChannelName, members...)
	fake.AddBotToChannel(Channel)
	fake.AddChannel(DigestChannel, DigestChannelName, members...)
	fake.AddBotToChannel(DigestChannel)
}

// alertFor is the alert for one token: Alertmanager's fallback then
// names the API user and the application among the common labels.
func alertFor(email, slug string) slackapi.Attachment {
	return alertmanager(1, email+" "+slug+" ")
}

// alertmanager is the firing alert of n tokens in production as
// Alertmanager's Slack notifier posts it (see the example in the shared
// data: one attachment, its template's token list hidden by a bug).
func alertmanager(n int, labels string) slackapi.Attachment {
	link := "https://alertmanager.eks.production.govuk.digital/#/alerts?receiver=monitoring%2Falertmanagerconfig-general%2Fslack-signon-token-expiry"
	return slackapi.Attachment{
		Color:     "#ffa500",
		Pretext:   "The following alert is firing:",
		Title:     ":warning: WARNING: SignonApiUserTokenExpirySoon",
		TitleLink: link,
		Text: "\n*Signon API User token is due to expire soon*\n*Description*:\nA token is about to expire within the next two weeks and needs rotating.\n\n\n\n\n" +
			"*Links:*\n• <https://docs.publishing.service.gov.uk/manual/alerts/signon-api-user-token-expires-soon.html|:orange_book: View Runbook>",
		Fallback: fmt.Sprintf("[FIRING:%d] SignonApiUserTokenExpirySoon (%sproduction monitoring/kube-prometheus-stack-prometheus warning) | %s", n, labels, link),
		Fields: []slackapi.AttachmentField{
			{Title: "Status", Value: ":fire: Firing", Short: true},
			{Title: "Severity", Value: ":warning: Warning", Short: true},
			{Title: "Environment", Value: "Production", Short: true},
		},
		Footer:     "Sent by Alertmanager",
		MarkdownIn: []string{"fallback", "pretext", "text"},
	}
}
