package blocks_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
)

// withConsumers gives the report the consumers a sweep would have
// listed: Content Tagger's token read by a Deployment and a CronJob, the
// others by nothing in the cluster.
func withConsumers(rep *daily.Report) *daily.Report {
	rep.Consumers = make([][]flows.Consumer, len(rep.Pairs))
	for i, p := range rep.Pairs {
		if p.User.Name == "Content Tagger" {
			rep.Consumers[i] = []flows.Consumer{
				{Kind: "Deployment", Name: "content-tagger", Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"},
				{Kind: "Deployment", Name: "content-tagger", Container: "worker", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"},
				{Kind: "CronJob", Name: "content-tagger-nightly", Container: "task", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"},
			}
		}
	}
	return rep
}

func TestHomeGolden(t *testing.T) {
	rep, s := sweepReport(t, 30*day)
	withConsumers(rep)
	envs := []blocks.HomeEnv{
		{Name: "production", Last: rep, Runs: rep.OpenRuns, Next: rep.Next},
		{Name: "integration", Next: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)},
		{Name: "staging"},
	}
	digestGolden(t, "home", s, rep, blocks.Message{Text: "home, for a starter", Blocks: render.Home(envs, true)})
	viewer := blocksJSON(t, blocks.Message{Blocks: render.Home(envs, false)})
	if strings.Contains(viewer, `"type":"button"`) {
		t.Errorf("a person without a role sees buttons on the Home tab")
	}
	if !strings.Contains(viewer, "Whitehall") || !strings.Contains(viewer, "verify") || !strings.Contains(viewer, "deploy/content-tagger`, `cronjob/content-tagger-nightly") {
		t.Errorf("the overview without buttons lacks the 45-day token, the run under way or a token's consumers")
	}
}

// TestHomeButtonsPerToken: a starter sees a Rotate beside each expiring
// token another team does not rotate, carrying the environment and the
// pair, and a Clean up beside each pair with superseded tokens.
func TestHomeButtonsPerToken(t *testing.T) {
	rep, _ := sweepReport(t, 30*day)
	home := blocksJSON(t, blocks.Message{Blocks: render.Home([]blocks.HomeEnv{{Name: "production", Last: rep}}, true)})
	values := map[string][]string{}
	for _, b := range render.Home([]blocks.HomeEnv{{Name: "production", Last: rep}}, true) {
		sec, ok := b.(*slack.SectionBlock)
		if !ok || sec.Accessory == nil || sec.Accessory.ButtonElement == nil {
			continue
		}
		btn := sec.Accessory.ButtonElement
		name, _, _ := strings.Cut(btn.ActionID, ":")
		target, ok := blocks.ParseHomeValue(btn.Value)
		p, found := rep.Pair(target.Pair.User, target.Pair.Application)
		if !ok || target.Environment != "production" || !found {
			t.Errorf("button %s has value %q, not a pair of the sweep", btn.ActionID, btn.Value)
			continue
		}
		values[name] = append(values[name], p.User.Name)
	}
	if got := strings.Join(values[blocks.ActionHomeRotate], ", "); got != "Content Tagger, Partner Feed, Whitehall" {
		t.Errorf("Rotate beside %q, want every expiring token but another team's", got)
	}
	if got := strings.Join(values[blocks.ActionHomeCleanUp], ", "); got != "Short URL Manager" {
		t.Errorf("Clean up beside %q, want the pair with a superseded token", got)
	}
	if strings.Contains(home, "Read by") {
		t.Errorf("a report without consumers names some")
	}
}

// TestHomeValuesRefuseForgeries: a per-token value parses only as
// HomeValue makes it.
func TestHomeValuesRefuseForgeries(t *testing.T) {
	v := blocks.HomeValue(blocks.HomeTarget{Environment: "production", Pair: blocks.DigestPair{User: 2, Application: 7}})
	if got, ok := blocks.ParseHomeValue(v); !ok || got.Environment != "production" || got.Pair != (blocks.DigestPair{User: 2, Application: 7}) {
		t.Fatalf("ParseHomeValue(%q) = %+v, %v", v, got, ok)
	}
	for _, bad := range []string{"", "production", "production|2", "production|2.7|x", "Production|2.7", "production|0.7", "production|2.-7",
		"production|2.7,3.8", "production|99999999999999999999.1", "production|2.7 ", "<!channel>|2.7", strings.Repeat("a", 40) + "|2.7"} {
		if got, ok := blocks.ParseHomeValue(bad); ok {
			t.Errorf("ParseHomeValue(%q) = %+v, want refused", bad, got)
		}
	}
}

// TestHomeOfManyEnvironmentsFitsBlockKit: past 100 blocks the Home tab
// counts the environments it left out.
func TestHomeOfManyEnvironmentsFitsBlockKit(t *testing.T) {
	rep, _ := sweepReport(t, 30*day)
	var envs []blocks.HomeEnv
	for i := range 40 {
		envs = append(envs, blocks.HomeEnv{Name: fmt.Sprintf("env-%02d", i), Last: rep, Runs: rep.OpenRuns, Next: rep.Next})
	}
	home := render.Home(envs, true)
	if len(home) > 100 {
		t.Errorf("%d blocks, over the Home tab's 100", len(home))
	}
	// Nine environments, 12 blocks each in full, fit when each lists
	// fewer tokens and counts those it left out.
	few := render.Home(envs[:9], true)
	text := blocksJSON(t, blocks.Message{Blocks: few})
	if len(few) > 100 || !strings.Contains(text, "*env-08*") || strings.Count(text, "not listed here, to keep the Home tab within 100 blocks") != 9 {
		t.Errorf("nine environments: %d blocks, or not all nine shown with a count of what each left out", len(few))
	}
	last, ok := home[len(home)-1].(*slack.ContextBlock)
	if !ok || !strings.Contains(blocksJSON(t, blocks.Message{Blocks: []slack.Block{last}}), "more environments are not shown") {
		t.Errorf("the Home tab does not say what it left out")
	}
}
