package bot

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

// TestAutopilotConfig: the defaults per environment, the refusals, and
// full in production only with the acknowledgement's exact text.
func TestAutopilotConfig(t *testing.T) {
	const prod = "environments:\n  production:\n"
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown mode", prod + "    autopilot: yes-please\n", `environments.production.autopilot: "yes-please" is not off, to-gates or full`},
		{"full in production", prod + "    autopilot: full\n", `environments.production.autopilot: full revokes in production with no second person; it needs environments.production.autopilotAcknowledgement: "I accept unattended revocation in production"`},
		{"a near acknowledgement", prod + "    autopilot: full\n    autopilotAcknowledgement: I accept unattended revocation\n", `environments.production.autopilotAcknowledgement: must be exactly "I accept unattended revocation in production", not "I accept unattended revocation"`},
		{"where the bot does not rotate", "environments:\n  staging:\n    autopilot: to-gates\n", "environments.staging.autopilot: to-gates starts rotations, but the bot does not rotate in staging (rotate: false)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, c.yaml)
			_, err := loadConfig(getenv(validEnv()), path)
			if err == nil || !strings.Contains(err.Error(), path+": "+c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}

	cfg, err := loadConfig(getenv(validEnv()), "")
	if err != nil {
		t.Fatal(err)
	}
	p := policyOf(cfg)
	for env, want := range map[string]flows.Autopilot{flows.Integration: flows.AutopilotFull, flows.Production: flows.AutopilotToGates, flows.Staging: flows.AutopilotOff} {
		if got := p.Environments[env].Autopilot; got != want {
			t.Errorf("%s's default autopilot is %s, want %s", env, got, want)
		}
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}

	path := writeFile(t, prod+"    autopilot: full\n    autopilotAcknowledgement: "+flows.AutopilotAcknowledgement+"\n")
	cfg, err = loadConfig(getenv(validEnv()), path)
	if err != nil {
		t.Fatalf("full acknowledged in production: %v", err)
	}
	p = policyOf(cfg)
	got := p.Environments[flows.Production]
	if got.Autopilot != flows.AutopilotFull || !got.AutopilotAcknowledged || p.Validate() != nil {
		t.Fatalf("production %+v (%v), want full, acknowledged", got, p.Validate())
	}
	if want := "environments.production.autopilot: full, with environments.production.autopilotAcknowledgement in " + path; p.AutopilotSource(flows.Production) != want {
		t.Errorf("the policy names %q, want %q", p.AutopilotSource(flows.Production), want)
	}
}

// YAML 1.1, which the configuration's parser reads, takes a bare off for
// false: `autopilot: off` must still mean off, as the README writes it.
func TestAutopilotOffUnquoted(t *testing.T) {
	path := writeFile(t, "environments:\n  production:\n    autopilot: off\n")
	cfg, err := loadConfig(getenv(validEnv()), path)
	if err != nil {
		t.Fatalf("autopilot: off: %v", err)
	}
	if got := policyOf(cfg).Environments[flows.Production].Autopilot; got != flows.AutopilotOff {
		t.Errorf("autopilot: off reads as %q, want off", got)
	}
}

func TestAutopilotOnUnquotedIsRefused(t *testing.T) {
	path := writeFile(t, "environments:\n  production:\n    autopilot: on\n")
	if _, err := loadConfig(getenv(validEnv()), path); err == nil || !strings.Contains(err.Error(), "environments.production.autopilot: true is not off, to-gates or full") {
		t.Errorf("autopilot: on: %v, want it refused", err)
	}
}
