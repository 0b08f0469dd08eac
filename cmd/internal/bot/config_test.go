package bot

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// validEnv is a minimal valid environment.
func validEnv() map[string]string {
	return map[string]string{
		"SLACK_APP_TOKEN": "xapp-1-test",
		"SLACK_BOT_TOKEN": "xoxb-test",
		"REDIS_URL":       "redis://127.0.0.1:6379/0",
	}
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEveryConfigErrorIsOneLineNamingItsKey(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string // merged over validEnv; "" deletes
		yaml string
		want string
	}{
		{"app token missing", map[string]string{"SLACK_APP_TOKEN": ""}, "", "SLACK_APP_TOKEN is required (the app-level token, xapp-...)"},
		{"app token wrong kind", map[string]string{"SLACK_APP_TOKEN": "xoxb-1"}, "", "SLACK_APP_TOKEN must start with xapp-"},
		{"bot token missing", map[string]string{"SLACK_BOT_TOKEN": ""}, "", "SLACK_BOT_TOKEN is required (the bot token, xoxb-...)"},
		{"bot token wrong kind", map[string]string{"SLACK_BOT_TOKEN": "xapp-1"}, "", "SLACK_BOT_TOKEN must start with xoxb-"},
		{"api url not http", map[string]string{"SLACK_API_URL": "ftp://slack.com/api/"}, "", `SLACK_API_URL: "ftp://slack.com/api/" is not an http(s) URL`},
		{"api url without slash", map[string]string{"SLACK_API_URL": "https://slack.com/api"}, "", "SLACK_API_URL must end with / (like https://slack.com/api/)"},
		{"pacing neither on nor off", map[string]string{"SLACK_PACING": "fast"}, "", `SLACK_PACING must be on or off, not "fast"`},
		{"no redis", map[string]string{"REDIS_URL": ""}, "", "REDIS_URL or REDIS_ADDRS is required"},
		{"url and addrs", map[string]string{"REDIS_ADDRS": "a:1"}, "", "REDIS_URL and REDIS_ADDRS cannot both be set"},
		{"redis url scheme", map[string]string{"REDIS_URL": "http://u:secret@h:1"}, "", "REDIS_URL must start with redis:// or rediss://"},
		{"redis url bad", map[string]string{"REDIS_URL": "redis://u:secret@h:port"}, "", "REDIS_URL is not a valid URL"},
		{"redis url bad db", map[string]string{"REDIS_URL": "redis://h:1/x"}, "", `REDIS_URL: invalid database number: "x"`},
		{"redis addr", map[string]string{"REDIS_URL": "", "REDIS_ADDRS": "a:1,nohost"}, "", `REDIS_ADDRS: "nohost" is not host:port`},
		{"redis addr no host", map[string]string{"REDIS_URL": "", "REDIS_ADDRS": ":6379"}, "", `REDIS_ADDRS: ":6379" is not host:port`},
		{"master with url", map[string]string{"REDIS_MASTER_NAME": "m"}, "", "REDIS_MASTER_NAME needs REDIS_ADDRS (the Sentinel addresses), not REDIS_URL"},
		{"cluster not bool", map[string]string{"REDIS_CLUSTER": "yes please"}, "", `REDIS_CLUSTER must be true or false (not "yes please")`},
		{"cluster with url", map[string]string{"REDIS_CLUSTER": "true"}, "", "REDIS_CLUSTER needs REDIS_ADDRS (the cluster's addresses), not REDIS_URL"},
		{"cluster and sentinel", map[string]string{"REDIS_URL": "", "REDIS_ADDRS": "a:1", "REDIS_CLUSTER": "true", "REDIS_MASTER_NAME": "m"}, "", "REDIS_CLUSTER and REDIS_MASTER_NAME cannot both be set"},
		{"several addrs alone", map[string]string{"REDIS_URL": "", "REDIS_ADDRS": "a:1,b:2"}, "", "REDIS_ADDRS lists 2 addresses: set REDIS_MASTER_NAME (Sentinel) or REDIS_CLUSTER=true"},
		{"state prefix", map[string]string{"STATE_PREFIX": "a b"}, "", `STATE_PREFIX: "a b" may hold only letters, digits and . _ : - (at most 64)`},
		{"pod name", map[string]string{"POD_NAME": "bot#1"}, "", `POD_NAME: "bot#1" is not a pod name (lower-case letters, digits, - and ., at most 253)`},
		{"http addr", map[string]string{"HTTP_ADDR": "8080"}, "", `HTTP_ADDR: "8080" is not host:port (like :8080)`},
		{"log level", map[string]string{"LOG_LEVEL": "verbose"}, "", `LOG_LEVEL must be one of debug, info, warn, error (not "verbose")`},
		{"log format", map[string]string{"LOG_FORMAT": "xml"}, "", `LOG_FORMAT must be json or text (not "xml")`},
		{"config file missing", map[string]string{"CONFIG_FILE": "/nonexistent/bot.yaml"}, "", "CONFIG_FILE: open /nonexistent/bot.yaml: no such file or directory"},

		{"not yaml", nil, "alertChannels: [C0123\n", "not YAML: yaml: line 1: did not find expected ',' or ']'"},
		{"top not a mapping", nil, "- a\n- b\n", "want a mapping of keys at the top"},
		{"unknown top key", nil, "alertChanels: [C0123ABCD]\n", "alertChanels: unknown key"},
		{"unknown nested key", nil, "environments:\n  production:\n    namspace: apps\n", "environments.production.namspace: unknown key"},
		{"env var key in the file", nil, "Slack: {}\n", "Slack: unknown key"},
		{"channel id", nil, "alertChannels: [C0123ABCD, general]\n", `alertChannels[1]: "general" is not a channel id (like C0123ABCD)`},
		{"channels not a list", nil, "alertChannels: C0123ABCD\n", `alertChannels: want a list, not "C0123ABCD"`},
		{"sender id", nil, "alertSenders: [B0123ABCD, Prometheus Alertmanager]\n", `alertSenders[1]: "Prometheus Alertmanager" is not a bot id (like B0123ABCD) or an app id (like A0123ABCD)`},
		{"sender user id", nil, "alertSenders: [U0123ABCD]\n", `alertSenders[0]: "U0123ABCD" is not a bot id (like B0123ABCD) or an app id (like A0123ABCD)`},
		{"signon concurrency zero", nil, "signonConcurrency: 0\n", "signonConcurrency must be from 1 to 16, not 0"},
		{"signon concurrency text", nil, "signonConcurrency: two\n", `signonConcurrency: want a whole number, not "two"`},
		{"duration", nil, "gateTimeout: 4 hours\n", `gateTimeout: "4 hours" is not a duration like 4h or 30m`},
		{"duration number", nil, "disusedAfter: 720\n", "disusedAfter: 720 is not a duration like 4h or 30m"},
		{"duration zero", nil, "expiryWindow: 0s\n", "expiryWindow must be more than 0"},
		{"retention short", nil, "retention: 30s\n", "retention must be at least 1m"},
		{"service identity", nil, "serviceIdentity: bot\n", `serviceIdentity: "bot" is not an email address`},
		{"self rotating", nil, "specialCases:\n  selfRotating: [\"Signon <x@y.z>\"]\n", `specialCases.selfRotating[0]: "Signon <x@y.z>" is not an email address`},
		{"other team no users", nil, "specialCases:\n  otherTeam:\n  - link: https://example.com/\n", "specialCases.otherTeam[0].apiUsers must name at least one API user"},
		{"other team empty user", nil, "specialCases:\n  otherTeam:\n  - apiUsers: [\" \"]\n    link: https://example.com/\n", "specialCases.otherTeam[0].apiUsers[0] is empty"},
		{"other team link", nil, "specialCases:\n  otherTeam:\n  - apiUsers: [Trade Tariff Admin]\n    link: http://wiki/\n", `specialCases.otherTeam[0].link: "http://wiki/" is not an https URL`},
		{"no environments", nil, "environments: {}\n", "environments must list at least one environment"},
		{"environment name", nil, "environments:\n  Prod!: {}\n", `environments: "Prod!" is not an environment name like production`},
		{"rotate not bool", nil, "environments:\n  production:\n    rotate: sometimes\n", `environments.production.rotate: want true or false, not "sometimes"`},
		{"namespace", nil, "environments:\n  production:\n    namespace: Apps!\n", `environments.production.namespace: "Apps!" is not a DNS label`},
		{"namespace number", nil, "environments:\n  production:\n    namespace: 42\n", "environments.production.namespace: want a string, not 42"},
		{"cronjob", nil, "environments:\n  production:\n    cronJob: " + strings.Repeat("a", 53) + "\n", `environments.production.cronJob: "` + strings.Repeat("a", 40) + `"… (53 bytes) is not a CronJob name`},
		{"deployment", nil, "environments:\n  production:\n    signonDeployment: Signon\n", `environments.production.signonDeployment: "Signon" is not a Deployment name`},
		{"container", nil, "environments:\n  production:\n    signonContainer: app_1\n", `environments.production.signonContainer: "app_1" is not a container name`},
		{"kubeconfig", nil, "environments:\n  production:\n    kubeconfig: /nonexistent/kubeconfig\n", `environments.production.kubeconfig: "/nonexistent/kubeconfig" cannot be read: no such file or directory`},
		{"starter user", nil, "environments:\n  production:\n    starters: {users: [alice]}\n", `environments.production.starters.users[0]: "alice" is not a Slack user id (like U0123ABCD)`},
		{"approver group", nil, "environments:\n  production:\n    approvers: {groups: [U0123ABCD]}\n", `environments.production.approvers.groups[0]: "U0123ABCD" is not a Slack user group id (like S0123ABCD)`},
		{"principals unknown key", nil, "environments:\n  production:\n    approvers: {people: [U0123ABCD]}\n", "environments.production.approvers.people: unknown key"},
		{"sync timeout", nil, "environments:\n  production:\n    syncTimeout: -1m\n", "environments.production.syncTimeout must be more than 0"},
		{"rollout timeout", nil, "environments:\n  production:\n    rolloutStartTimeout: soon\n", `environments.production.rolloutStartTimeout: "soon" is not a duration like 4h or 30m`},
		{"live check app", nil, "environments:\n  production:\n    liveChecks: {Publishing API: builtin}\n", `environments.production.liveChecks: "Publishing API" is not an application name like publishing-api`},
		{"live check value", nil, "environments:\n  production:\n    liveChecks: {publishing-api: yes}\n", "environments.production.liveChecks.publishing-api: want \"builtin\" or a command as a list of strings, not true"},
		{"default environment unknown", nil, "defaultEnvironment: preview\n", `defaultEnvironment: "preview" is not one of the environments the bot rotates in`},
		{"default environment not rotated", nil, "defaultEnvironment: staging\n", `defaultEnvironment: "staging" is not one of the environments the bot rotates in`},
		{"default environment gone", nil, "environments:\n  integration: {}\n", `defaultEnvironment: "production" is not one of the environments the bot rotates in`},
		{"handoff timeout", nil, "handoffTimeout: 0s\n", "handoffTimeout must be more than 0"},
		{"lease", nil, "leaseTTL: -1s\n", "leaseTTL must be more than 0"},
		{"human suffix", nil, "specialCases:\n  humanEmailSuffixes: [digital.cabinet-office.gov.uk]\n", `specialCases.humanEmailSuffixes[0]: "digital.cabinet-office.gov.uk" is not an email domain like @example.gov.uk`},
		{"verify timeout", nil, "environments:\n  production:\n    verifyTimeout: 0s\n", "environments.production.verifyTimeout must be more than 0"},
		{"step timeout", nil, "stepTimeout: 0s\n", "stepTimeout must be more than 0"},
		{"call timeout", nil, "environments:\n  production:\n    callTimeout: -1s\n", "environments.production.callTimeout must be more than 0"},
		// No setting points an environment at a stand-in: only
		// cmd/sandboxbot, which is not the shipped binary, does that.
		{"sandbox", nil, "environments:\n  production:\n    sandbox: http://127.0.0.1:8080\n", "environments.production.sandbox: unknown key"},
		{"live check empty command", nil, "environments:\n  production:\n    liveChecks: {publishing-api: []}\n", "environments.production.liveChecks.publishing-api: want \"builtin\" or a command as a list of strings, not a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range c.env {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			path := ""
			if c.yaml != "" {
				path = writeFile(t, c.yaml)
			}
			_, err := loadConfig(getenv(env), path)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			// The first problem is the one the case is about; any after it
			// follow from it (an environment left out is not the default).
			first, _, _ := strings.Cut(err.Error(), "\n")
			got := strings.TrimPrefix(first, path+": ")
			if got != c.want {
				t.Errorf("error:\n got %q\nwant %q", got, c.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error echoes a password: %q", err)
			}
			if c.yaml != "" && !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("error does not name the file: %q", err)
			}
		})
	}
}

func TestNoFileMeansGOVUKDefaults(t *testing.T) {
	cfg, err := loadConfig(getenv(validEnv()), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Slack.APIURL != "https://slack.com/api/" || cfg.StatePrefix != "stb" || cfg.HTTPAddr != ":8080" || cfg.LogFormat != "json" {
		t.Errorf("process defaults = %+v", cfg)
	}
	if len(cfg.Environments) != 3 || !cfg.Environments["production"].Rotate || !cfg.Environments["integration"].Rotate || cfg.Environments["staging"].Rotate {
		t.Errorf("environments = %+v", cfg.Environments)
	}
	prod := cfg.Environments["production"]
	if prod.Namespace != "apps" || prod.CronJob != "signon-sync-token-secrets-to-k8s" || prod.SignonDeployment != "signon" ||
		prod.SignonContainer != "app" || prod.SyncTimeout != 10*time.Minute || !prod.FourEyesRevoke {
		t.Errorf("production = %+v", prod)
	}
	if cfg.ExpiryWindow != 14*24*time.Hour || cfg.SpecialCases.SelfRotating[0] != "signon+permissions@alphagov.co.uk" {
		t.Errorf("policy defaults = %+v", cfg)
	}
}

func TestFileOverridesOnlyWhatItSays(t *testing.T) {
	path := writeFile(t, `
alertChannels: [C0123ABCD]
gateTimeout: 2h
serviceIdentity: signon-token-bot@digital.cabinet-office.gov.uk
environments:
  production:
    approvers: {users: [U0AAA], groups: [S0OPS]}
    liveChecks:
      publishing-api: builtin
      short-url-manager: [bin/rails, runner, "puts 1"]
  staging:
`)
	env := validEnv()
	env["CONFIG_FILE"] = "/ignored/because/the/flag/wins.yaml"
	env["REDIS_URL"] = ""
	env["REDIS_ADDRS"] = "10.0.0.1:26379, 10.0.0.2:26379"
	env["REDIS_MASTER_NAME"] = "mymaster"
	delete(env, "REDIS_URL")
	cfg, err := loadConfig(getenv(env), path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GateTimeout != 2*time.Hour || cfg.DisusedAfter != 30*24*time.Hour || cfg.File != path {
		t.Errorf("durations = %v %v", cfg.GateTimeout, cfg.DisusedAfter)
	}
	if len(cfg.Environments) != 2 {
		t.Errorf("environments = %v, want the file's two", cfg.Environments)
	}
	prod := cfg.Environments["production"]
	want := map[string]LiveCheck{"publishing-api": {Builtin: true}, "short-url-manager": {Command: []string{"bin/rails", "runner", "puts 1"}}}
	if !reflect.DeepEqual(prod.LiveChecks, want) || prod.Approvers.Groups[0] != "S0OPS" || prod.Namespace != "apps" || !prod.Rotate {
		t.Errorf("production = %+v", prod)
	}
	if staging := cfg.Environments["staging"]; staging.Rotate || staging.Namespace != "apps" {
		t.Errorf("staging = %+v, want the defaults", staging)
	}
	if !reflect.DeepEqual(cfg.Redis.Addrs, []string{"10.0.0.1:26379", "10.0.0.2:26379"}) || cfg.Redis.MasterName != "mymaster" {
		t.Errorf("redis = %+v", cfg.Redis)
	}
}
