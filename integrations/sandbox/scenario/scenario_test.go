package scenario_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/sandbox/scenario"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// Every scenario builds, has a script, and fails its check when nothing
// was played: the check compares, it does not just pass. cmd/demo's
// tests play each one against the bot.
func TestEveryScenarioChecksItsDesign(t *testing.T) {
	for _, info := range scenario.List() {
		t.Run(info.Name, func(t *testing.T) {
			w, err := scenario.New(info.Name, &flowstest.Clock{})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case info.Swept != "":
				if w.Sweep == nil || w.Sweep.Environment != info.Swept || w.Environment() != info.Swept {
					t.Fatalf("a sweep-driven scenario that does not sweep %s: %+v", info.Swept, w.Sweep)
				}
			case (len(w.Script) == 0 && info.Name != scenario.LegacyToken) || w.Alert.Fallback == "":
				t.Fatalf("no script or alert: %+v", w)
			}
			fake := slacktest.New(t)
			w.Setup(fake)
			_, err = w.Check(nil, fake)
			var mismatch *scenario.MismatchError
			if !errors.As(err, &mismatch) || !(strings.Contains(err.Error(), "no run was started") || strings.Contains(err.Error(), "did not explain")) {
				t.Fatalf("check of an unplayed world: %v", err)
			}
			if leaks := w.Leaks(w.Signon.Snapshot(), w.Alert.Fallback); len(leaks) != 0 {
				t.Errorf("the world's description holds a token: %v", leaks)
			}
			secret := w.Signon.IssuedSecrets()[0]
			if leaks := w.Leaks("ok", "x"+secret.Reveal()+"x"); len(leaks) != 1 || leaks[0] != secret.Fingerprint() {
				t.Errorf("Leaks found %v, want the token's fingerprint", leaks)
			}
		})
	}
}

func TestUnknownScenario(t *testing.T) {
	_, err := scenario.New("rotate-everything", &flowstest.Clock{})
	var unknown *scenario.UnknownError
	if !errors.As(err, &unknown) || unknown.Name != "rotate-everything" {
		t.Fatalf("err = %v", err)
	}
}
