package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// A question pings its people as Slack notifies them, in its blocks and
// in the notification text phones show; the status message links to the
// runbook and the configured templates, values escaped; the checklist's
// times leave out the waits for a click.
func TestGatesPingAndStatusLinks(t *testing.T) {
	now := flowstest.Start
	r := blocks.Renderer{WorkspaceURL: "https://govuk.slack.com/", Links: blocks.Links{
		Runbook:    "https://docs.publishing.service.gov.uk/manual/alerts/signon-api-user-token-expires-soon.html",
		ArgoCD:     "https://argo.eks.{env}.govuk.digital/applications/{app}",
		Dashboards: []blocks.NamedURL{{Name: "Job logs", URL: "https://logs.example/{namespace}?job={job}"}},
		Namespaces: map[string]string{flows.Production: "apps"},
	}}
	g := &flows.Gate{ID: "gate0001", Kind: flows.GateSync, OpenedAt: now, ExpiresAt: now.Add(4 * time.Hour), Actions: []flows.Action{flows.ActionApprove, flows.ActionCancel},
		Ping: flows.Mention("S0APPR") + " " + flows.Mention(bob)}
	run := &flows.Run{ID: "r-run1", Key: flows.Key{Environment: flows.Production, APIUser: userEmail, Application: appSlug}, APIUserName: userName, ApplicationName: appName,
		StartedBy: alice, CreatedAt: now, Phase: flows.PhaseWaiting, Step: flows.StepSync, Gate: g,
		Consumers: []flows.Consumer{{Kind: "Deployment", Name: "content-tagger"}, {Kind: "Deployment", Name: "content-tagger"}, {Kind: "CronJob", Name: "odd name?x=1"}},
		Steps: []flows.StepState{
			{Step: flows.StepIssue, Status: flows.StepOK, StartedAt: now, EndedAt: now.Add(2*time.Hour + 5*time.Second), Waited: 2 * time.Hour},
			{Step: flows.StepSync, Status: flows.StepWaiting, StartedAt: now},
		},
		Posts: []flows.Post{
			{ID: "00-sync", Step: flows.StepSync, At: now, Title: "Run the token sync job in production?", Gate: g.ID, Ping: g.Ping},
			{ID: "01-sync", Step: flows.StepSync, At: now, Title: "Reminder: Run the token sync job in production?", Gate: g.ID, Ping: g.Ping,
				Lines: []string{"Still waiting for an answer. This question expires " + flows.When(g.ExpiresAt) + " (in 48 minutes); the run then waits until someone asks again."}},
		},
	}
	var msgs []named
	add := func(name string, m blocks.Message) {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, named{Name: name, Message: b})
	}
	add("status", r.Status(run))
	for _, p := range run.Posts {
		m := r.Post(run, p)
		if !strings.HasPrefix(m.Text, "<!subteam^S0APPR> <@U0BOB> ") {
			t.Errorf("post %s's notification text %q does not ping", p.ID, m.Text)
		}
		add("post "+p.ID, m)
	}
	run.SyncJob = &flows.SyncJob{Name: "signon-sync-token-secrets-to-k8s-2611260900"}
	add("status with its Job", r.Status(run))
	golden(t, "gates", signontest.New(&flowstest.Clock{}), []*flows.Run{run}, msgs)

	all := string(msgs[0].Message) + string(msgs[1].Message) + string(msgs[3].Message)
	for _, want := range []string{
		`:bell: \u003c!subteam^S0APPR\u003e \u003c@U0BOB\u003e`,
		"Issue a new token in Signon (5s)",
		`https://argo.eks.production.govuk.digital/applications/odd%20name%3Fx=1|Argo CD: odd name?x=1`,
		`https://logs.example/apps?job=signon-sync-token-secrets-to-k8s-2611260900|Job logs`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the rendering lacks %s", want)
		}
	}
	if strings.Count(string(msgs[0].Message), "applications/content-tagger") != 1 || strings.Contains(string(msgs[0].Message), "logs.example") {
		t.Errorf("the status links each workload once, and no Job before there is one:\n%s", msgs[0].Message)
	}
}
