package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The bot accepts what the chart gives it: the environment of the
// rendered container (Secrets resolved to made-up tokens) and the
// ConfigMap's file, checked by the real binary's check-config, which
// describes the Redis and environments it understood.
func TestChartConfigAcceptedByBot(t *testing.T) {
	helmBin(t)
	if testing.Short() {
		t.Skip("builds the bot; not with -short")
	}
	dir := t.TempDir()
	bot := filepath.Join(dir, "bot")
	buildBot(t, repoRoot, bot, "v0.0.0-chart")
	mount := filepath.Join(dir, "kubeconfig")
	if err := os.MkdirAll(mount, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mount, "config"), []byte(integrationKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	// Values a Secret would hold; not real credentials.
	secrets := map[string]string{
		"signon-token-bot-slack/app-token": "xapp-1-A0TEST-0-test",
		"signon-token-bot-slack/bot-token": "xoxb-0-0-test",
		"signon-token-bot-redis/password":  "not-a-password",
		"signon-token-bot-redis/username":  "acl-user-for-test",
	}

	for _, c := range []struct {
		name      string
		files     []string
		overrides map[string]any
		want      []string
	}{
		// The chart's defaults are GOV.UK's, which name no serviceIdentity
		// for Signon's event log: the bot would mark each environment down.
		{"defaults", nil, map[string]any{"config": map[string]any{"serviceIdentity": "signon-token-bot@digital.cabinet-office.gov.uk"}}, []string{
			"redis: REDIS_URL (standalone)",
			"environment production: rotated; namespace apps",
			"note: environment production uses the pod's ServiceAccount (no kubeconfig): checked only inside a pod",
		}},
		{"sentinel", []string{"sentinel.yaml"}, map[string]any{
			"kubeconfig": map[string]any{"mountPath": mount},
			"config": map[string]any{"environments": map[string]any{
				"integration": map[string]any{"kubeconfig": filepath.Join(mount, "config")},
			}},
		}, []string{
			"redis: Sentinel master signon-token-bot at redis-sentinel-0.redis:26379, redis-sentinel-1.redis:26379, redis-sentinel-2.redis:26379",
			"alert channels: C0123ABCD",
			"environment integration: rotated; namespace apps; starters: 0 users, 1 groups; approvers: 0 users, 1 groups",
			"environment staging: explained, not rotated",
		}},
		{"cluster", []string{"cluster.yaml"}, map[string]any{"config": map[string]any{"serviceIdentity": "signon-token-bot@digital.cabinet-office.gov.uk"}}, []string{
			"redis: Cluster at redis-0.redis:6379, redis-1.redis:6379, redis-2.redis:6379",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs := mustRender(t, "bots", c.files, c.overrides)
			container := only[*appsv1.Deployment](t, objs).Spec.Template.Spec.Containers[0]
			configFile := filepath.Join(t.TempDir(), "config.yaml")
			var env []string
			for _, e := range container.Env {
				v := e.Value
				switch {
				case e.Name == "CONFIG_FILE":
					cm := only[*corev1.ConfigMap](t, objs)
					if filepath.Dir(e.Value) != mountPathOf(t, container, "config") {
						t.Errorf("CONFIG_FILE %s is not in the config volume's mount", e.Value)
					}
					if err := os.WriteFile(configFile, []byte(cm.Data[filepath.Base(e.Value)]), 0o600); err != nil {
						t.Fatal(err)
					}
					v = configFile
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					var ok bool
					if v, ok = secrets[ref.Name+"/"+ref.Key]; !ok {
						t.Fatalf("%s reads key %s of Secret %s, which the test does not know", e.Name, ref.Key, ref.Name)
					}
				case e.ValueFrom != nil:
					continue // GOMEMLIMIT: the kubelet's to fill in
				}
				env = append(env, e.Name+"="+v)
			}
			cmd := exec.Command(bot, append(container.Args[:0:0], "check-config")...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bot check-config with the chart's environment: %v\n%s", err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("check-config output lacks %q:\n%s", w, out)
				}
			}
			for _, s := range secrets {
				if strings.Contains(string(out), s) {
					t.Errorf("check-config printed a secret value:\n%s", out)
				}
			}
		})
	}
}

// integrationKubeconfig is a kubeconfig with the context docs/deploy.md
// builds; check-config loads it as serve would.
var integrationKubeconfig = func() string {
	b, err := os.ReadFile(filepath.Join("testdata", "integration.kubeconfig"))
	if err != nil {
		panic(err)
	}
	return string(b)
}()

func mountPathOf(t *testing.T, c corev1.Container, volume string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	t.Fatalf("container %s mounts no volume %s", c.Name, volume)
	return ""
}
