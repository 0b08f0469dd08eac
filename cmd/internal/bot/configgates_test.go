package bot

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

func TestGatesAndLinksConfig(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"reminder over 99", "gates:\n  reminderPercent: 100\n", "gates.reminderPercent must be from 1 to 99, or 0 for no reminder, not 100"},
		{"ping unknown environment", "gates:\n  ping:\n    prod: {groups: [S0APPR]}\n", `gates.ping.prod: "prod" is not one of the environments`},
		{"ping group id", "gates:\n  ping:\n    production: {groups: [platform-oncall]}\n", `gates.ping.production.groups[0]: "platform-oncall" is not a Slack user group id (like S0123ABCD)`},
		{"ping user id", "gates:\n  ping:\n    production: {users: [\"@alice\"]}\n", `gates.ping.production.users[0]: "@alice" is not a Slack user id (like U0123ABCD)`},
		{"ping none and names", "gates:\n  ping:\n    production: {none: true, users: [U0ALICE]}\n", "gates.ping.production: none is true but users or groups are named"},
		{"runbook http", "links:\n  runbook: http://example.com/runbook\n", `links.runbook: "http://example.com/runbook" is not an https URL`},
		{"argo http", "links:\n  argoCD: http://argo/{app}\n", `links.argoCD: "http://argo/{app}": not an https URL`},
		{"argo unknown placeholder", "links:\n  argoCD: https://argo.eks.{env}.govuk.digital/applications/{application}\n", `links.argoCD: "https://argo.eks.{env}.govuk.digital/app"… (63 bytes): unknown placeholder {application} (known: {env}, {app}, {namespace}, {job})`},
		{"dashboard no name", "links:\n  dashboards:\n    - url: https://grafana.example/{app}\n", "links.dashboards[0].name must be 1 to 40 characters"},
		{"dashboard markup", "links:\n  dashboards:\n    - {name: Logs, url: \"https://logs.example/?q=<!channel>\"}\n", `links.dashboards[0].url: "https://logs.example/?q=<!channel>": not an https URL`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, c.yaml)
			_, err := loadConfig(getenv(validEnv()), path)
			if err == nil || !strings.Contains(err.Error(), path+": "+c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}

	// Unnamed environments ping their approvers; none pings nobody.
	path := writeFile(t, "environments:\n  production:\n    starters: {users: [U0ALICE]}\n    approvers: {groups: [S0APPR], users: [U0BOB]}\n  integration:\n    approvers: {groups: [S0APPR]}\n"+
		"defaultEnvironment: production\ngates:\n  reminderPercent: 75\n  ping:\n    integration: {none: true}\n")
	cfg, err := loadConfig(getenv(validEnv()), path)
	if err != nil {
		t.Fatal(err)
	}
	p := policyOf(cfg)
	if got := p.Ping(flows.Production, "U0ALICE"); got != "@{S0APPR} @{U0BOB}" {
		t.Errorf("production pings %q, want its approvers", got)
	}
	if got := p.Ping(flows.Integration, "U0ALICE"); got != "" || p.ReminderPercent != 75 {
		t.Errorf("integration pings %q with reminders at %d%%, want nobody at 75%%", got, p.ReminderPercent)
	}
	if l := DefaultConfig().Links; l.Runbook != runbookURL || l.ArgoCD != "" || DefaultConfig().Gates.ReminderPercent != 80 {
		t.Errorf("default links %+v, reminder %d%%: want GOV.UK's runbook and 80%%", l, DefaultConfig().Gates.ReminderPercent)
	}
}
