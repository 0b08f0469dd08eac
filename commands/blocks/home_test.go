package blocks_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
)

func TestHomeGolden(t *testing.T) {
	rep, s := sweepReport(t, 30*day)
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
	if !strings.Contains(viewer, "Whitehall") || !strings.Contains(viewer, "verify") {
		t.Errorf("the overview without buttons lacks the 45-day token or the run under way")
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
	last, ok := home[len(home)-1].(*slack.ContextBlock)
	if !ok || !strings.Contains(blocksJSON(t, blocks.Message{Blocks: []slack.Block{last}}), "more environments are not shown") {
		t.Errorf("the Home tab does not say what it left out")
	}
}
