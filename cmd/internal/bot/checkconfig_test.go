package bot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeKubeconfig writes a kubeconfig with one context, integration, as
// docs/deploy.md builds it.
func writeKubeconfig(t *testing.T) string {
	t.Helper()
	kc, err := os.ReadFile("../../../deploy/deploytest/testdata/integration.kubeconfig")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkConfig runs `bot check-config` as main would.
func checkConfig(t *testing.T, env map[string]string, yaml string) (string, error) {
	t.Helper()
	args := []string{"check-config"}
	if yaml != "" {
		args = append(args, "-config", writeFile(t, yaml))
	}
	var out bytes.Buffer
	err := Program{}.Run(context.Background(), args, getenv(env), strings.NewReader(""), &out, &bytes.Buffer{})
	return out.String(), err
}

// check-config fails on what serve would refuse or mark down, and says
// what it could not check where it ran.
func TestCheckConfigFailsWhereServeWould(t *testing.T) {
	kubeconfig := writeKubeconfig(t)
	good := "serviceIdentity: signon-token-bot@digital.cabinet-office.gov.uk\nalertChannels: [C0123ABCD]\nalertSenders: [B0123ABCD]\n" +
		"environments:\n  production:\n    starters: {groups: [S0123STRT]}\n  integration:\n    kubeconfig: " + kubeconfig + "\n    context: integration\n    starters: {groups: [S0123STRT]}\n  staging:\n    rotate: false\n"
	for _, c := range []struct {
		name    string
		env     map[string]string
		yaml    string
		wantErr string
		wantOut []string
	}{
		{name: "GOV.UK defaults have no serviceIdentity", yaml: "",
			wantErr: "environments.integration: serviceIdentity is not configured: Signon's event log needs an account to name when a requester has none\n" +
				"environments.production: serviceIdentity is not configured: Signon's event log needs an account to name when a requester has none"},
		{name: "the deploy guide's mistake", yaml: strings.Replace(good, "serviceIdentity: signon-token-bot@digital.cabinet-office.gov.uk\n", "", 1),
			wantErr: "environments.integration: serviceIdentity is not configured: Signon's event log needs an account to name when a requester has none\n" +
				"environments.production: serviceIdentity is not configured: Signon's event log needs an account to name when a requester has none"},
		{name: "a context the kubeconfig lacks", yaml: strings.Replace(good, "context: integration", "context: integratoin", 1),
			wantErr: `environments.integration: kubernetes config (kubeconfig "` + kubeconfig + `", context "integratoin"): context "integratoin" does not exist`},
		{name: "a file that is not a kubeconfig", yaml: strings.Replace(good, kubeconfig, writeFile(t, "just: text\n"), 1),
			wantErr: `environments.integration: kubernetes config (kubeconfig "`},
		{name: "valid", yaml: good, wantOut: []string{
			"configuration is valid\n",
			"environment integration: rotated; namespace apps; starters: 0 users, 1 groups",
			"note: environment production uses the pod's ServiceAccount (no kubeconfig): checked only inside a pod\n",
		}},
		{name: "a kubeconfig environment needs serviceIdentity too", yaml: "defaultEnvironment: production\nenvironments:\n  production:\n    rotate: true\n    kubeconfig: " + kubeconfig + "\n    context: integration\n",
			wantErr: "environments.production: serviceIdentity is not configured"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range c.env {
				env[k] = v
			}
			out, err := checkConfig(t, env, c.yaml)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "warning:") {
				t.Errorf("warnings on a configuration that can rotate:\n%s", out)
			}
		})
	}
}

// Inside a pod, the in-cluster account is checked as serve would use it:
// a pod without its ServiceAccount token cannot reach the cluster.
func TestCheckConfigInAPodChecksTheServiceAccount(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	if _, err := os.Stat("/var/run/secrets/kubernetes.io/serviceaccount/token"); err == nil {
		t.Skip("this machine has a ServiceAccount token")
	}
	env := validEnv()
	env["KUBERNETES_SERVICE_HOST"] = "10.96.0.1"
	_, err := checkConfig(t, env, "serviceIdentity: bot@example.gov.uk\nenvironments:\n  production:\n    starters: {users: [U0123ABCD]}\n")
	if want := `environments.production: kubernetes config (kubeconfig "", context ""): open /var/run/secrets/kubernetes.io/serviceaccount/token: no such file or directory`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// The summary warns about configurations that can never do anything.
func TestCheckConfigWarnsWhenNothingCanHappen(t *testing.T) {
	base := "serviceIdentity: bot@example.gov.uk\n"
	env := validEnv()
	env["KUBERNETES_SERVICE_HOST"] = "" // outside a pod: the in-cluster account is not checked
	for _, c := range []struct {
		yaml string
		want []string
	}{
		{base + "alertChannels: [C0123ABCD]\nalertSenders: [B0123ABCD]\nenvironments:\n  production:\n    starters: {users: [U0123ABCD]}\n", nil},
		{base + "alertSenders: [B0123ABCD]\nenvironments:\n  production:\n    starters: {users: [U0123ABCD]}\n",
			[]string{"warning: alertChannels is empty: the bot answers no alert, only /rotate-token"}},
		{base + "alertChannels: [C0123ABCD]\nenvironments:\n  production:\n    starters: {users: [U0123ABCD]}\n",
			[]string{"warning: alertChannels are set but alertSenders is empty, so no message counts as an alert: add the bot id (B…) of Alertmanager's Slack integration"}},
		{base + "alertChannels: [C0123ABCD]\nalertSenders: [B0123ABCD]\nenvironments:\n  production: {}\n  integration:\n    starters: {users: [U0123ABCD]}\n  staging:\n    rotate: false\n",
			[]string{"warning: environment production rotates but names no starters: nobody can start a rotation there"}},
	} {
		out, err := checkConfig(t, env, c.yaml)
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "warning: ") {
				got = append(got, l)
			}
		}
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%q: warnings\n%s\nwant\n%s", c.yaml, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}
