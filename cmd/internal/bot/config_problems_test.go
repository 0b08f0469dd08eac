package bot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// problemsOf loads the configuration and returns its problems, without
// the file's name before each.
func problemsOf(t *testing.T, env map[string]string, yaml string) []string {
	t.Helper()
	path := ""
	if yaml != "" {
		path = writeFile(t, yaml)
	}
	_, err := loadConfig(getenv(env), path)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("loadConfig: %v, want a ConfigError", err)
	}
	out := make([]string, len(ce.Problems))
	for i, p := range ce.Problems {
		out[i] = strings.TrimPrefix(p, path+": ")
	}
	return out
}

func TestConfigReportsEveryProblem(t *testing.T) {
	env := validEnv()
	env["SLACK_BOT_TOKEN"] = "xapp-wrong"
	env["LOG_LEVEL"] = "loud"
	got := problemsOf(t, env, `
alertChannels: [general, C0123ABCD, random]
gateTimeout: soon
surprise: 1
environments:
  production:
    namespace: Apps!
    starters: {users: [alice]}
    approvers: {groups: [S0OK, bob]}
`)
	want := []string{
		"SLACK_BOT_TOKEN must start with xoxb-",
		`LOG_LEVEL must be one of debug, info, warn, error (not "loud")`,
		`gateTimeout: "soon" is not a duration like 4h or 30m`,
		"surprise: unknown key",
		`alertChannels[0]: "general" is not a channel id (like C0123ABCD)`,
		`alertChannels[2]: "random" is not a channel id (like C0123ABCD)`,
		`environments.production.namespace: "Apps!" is not a DNS label`,
		`environments.production.starters.users[0]: "alice" is not a Slack user id (like U0123ABCD)`,
		`environments.production.approvers.groups[1]: "bob" is not a Slack user group id (like S0123ABCD)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A second "production:" used to replace the first, starters and all.
func TestDuplicateKeysAreErrorsNamingBothLines(t *testing.T) {
	got := problemsOf(t, validEnv(), `serviceIdentity: bot@example.gov.uk
environments:
  production:
    starters: {groups: [S0123STRT]}
  integration:
    rotate: true
  production:
    liveChecks:
      publishing-api: builtin
      publishing-api: [bin/true]
alertSenders: [B0123ABCD]
alertSenders: [B0456EFGH]
`)
	want := []string{
		"environments.production: given twice, on lines 3 and 7: the second would replace the first; merge them",
		"environments.production.liveChecks.publishing-api: given twice, on lines 9 and 10: the second would replace the first; merge them",
		"alertSenders: given twice, on lines 11 and 12: the second would replace the first; merge them",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestConfigInputIsBounded(t *testing.T) {
	big := strings.Repeat("x", 50<<20)
	t.Run("file over 1 MiB", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "big.yaml")
		if err := os.WriteFile(path, []byte("serviceIdentity: "+big[:1<<20]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(getenv(validEnv()), path)
		if want := "-config: " + path + " is over 1024 KiB: this is not a configuration file"; err == nil || err.Error() != want {
			t.Errorf("error = %.500v, want %q", err, want)
		}
	})
	t.Run("a long value in the file", func(t *testing.T) {
		got := problemsOf(t, validEnv(), "environments:\n  production:\n    namespace: "+big[:1000<<10]+"\n")
		if want := `environments.production.namespace: "` + big[:40] + `"… (1024000 bytes) is not a DNS label`; len(got) != 1 || got[0] != want {
			t.Errorf("problems = %.500q, want %q", got, want)
		}
	})
	t.Run("a long key in the file", func(t *testing.T) {
		got := problemsOf(t, validEnv(), big[:1000]+": 1\n")
		if want := big[:40] + "…: unknown key"; len(got) != 1 || got[0] != want {
			t.Errorf("problems = %.500q, want %q", got, want)
		}
	})
	for _, key := range []string{"SLACK_API_URL", "SLACK_PACING", "REDIS_ADDRS", "STATE_PREFIX", "HTTP_ADDR", "LOG_LEVEL", "LOG_FORMAT", "REDIS_CLUSTER"} {
		t.Run(key, func(t *testing.T) {
			env := validEnv()
			env[key] = big
			if key == "REDIS_ADDRS" {
				delete(env, "REDIS_URL")
			}
			for _, p := range problemsOf(t, env, "") {
				if len(p) > 160 {
					t.Errorf("a problem of %d bytes: %.200q", len(p), p)
				}
			}
		})
	}
}

func TestPortsAndURLsAreChecked(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		yaml string
		want string
	}{
		{env: map[string]string{"REDIS_URL": "redis://u:secret@redis:99999/0"}, want: "REDIS_URL: the port must be from 1 to 65535"},
		{env: map[string]string{"REDIS_URL": "rediss://redis:0"}, want: "REDIS_URL: the port must be from 1 to 65535"},
		{env: map[string]string{"REDIS_URL": "", "REDIS_ADDRS": "redis:70000"}, want: `REDIS_ADDRS: "redis:70000" is not host:port`},
		{env: map[string]string{"REDIS_URL": "", "REDIS_ADDRS": "redis:0"}, want: `REDIS_ADDRS: "redis:0" is not host:port`},
		{env: map[string]string{"HTTP_ADDR": ":65536"}, want: `HTTP_ADDR: ":65536" is not host:port (like :8080)`},
		{env: map[string]string{"SLACK_API_URL": "https://slack.com:99999/api/"}, want: `SLACK_API_URL: "https://slack.com:99999/api/" is not an http(s) URL`},
		{env: map[string]string{"SLACK_API_URL": "https://:443/api/"}, want: `SLACK_API_URL: "https://:443/api/" is not an http(s) URL`},
		{yaml: "specialCases:\n  otherTeam:\n  - apiUsers: [Trade Tariff Admin]\n    link: https://wiki:0/x\n", want: `specialCases.otherTeam[0].link: "https://wiki:0/x" is not an https URL`},
	} {
		env := validEnv()
		for k, v := range c.env {
			env[k] = v
		}
		got := problemsOf(t, env, c.yaml)
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%v %q: problems %q, want %q", c.env, c.yaml, got, c.want)
		}
	}
}
