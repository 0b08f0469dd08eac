package bot

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Every configuration README.md and docs/*.md show, whole or as a Helm
// values file's `config`, passes check-config with no warning: a bot
// built from it can rotate. The kubeconfig files they name are provided,
// with the contexts docs/deploy.md builds. A block whose first line is
// fragmentMark shows keys to add to the configuration shown before it in
// the same document, and is checked merged onto that one.
func TestDocsExampleConfigsPassCheckConfig(t *testing.T) {
	docs, err := filepath.Glob("../../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, "../../../README.md")
	keys := map[string]bool{}
	for name := range fieldsOf(t) {
		keys[name] = true
	}
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	checked := 0
	for _, doc := range docs {
		var previous map[string]any
		raw, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range block.FindAllStringSubmatch(string(raw), -1) {
			name := filepath.Base(doc) + " yaml block " + string(rune('1'+i))
			var top map[string]any
			if err := yaml.Unmarshal([]byte(m[1]), &top); err != nil {
				t.Errorf("%s: not YAML: %v", name, err)
				continue
			}
			cfg, ok := top["config"].(map[string]any)
			if !ok {
				cfg = top
				for k := range top {
					if !keys[k] {
						// Helm values without the bot's configuration (the
						// Redis examples): no configuration to check here;
						// deploy/deploytest's sentinel and cluster values
						// files render the same shapes.
						cfg = nil
						break
					}
				}
			}
			if cfg == nil {
				continue
			}
			if strings.HasPrefix(m[1], fragmentMark) {
				if previous == nil {
					t.Errorf("%s: a fragment with no configuration before it", name)
					continue
				}
				cfg = mergeYAML(previous, cfg)
			}
			previous = cfg
			t.Run(name, func(t *testing.T) {
				envs, _ := cfg["environments"].(map[string]any)
				for _, e := range envs {
					if e, ok := e.(map[string]any); ok && e["kubeconfig"] != nil {
						e["kubeconfig"] = writeKubeconfig(t)
					}
				}
				out, err := yaml.Marshal(cfg)
				if err != nil {
					t.Fatal(err)
				}
				report, err := checkConfig(t, validEnv(), string(out))
				if err != nil {
					t.Fatalf("check-config:\n%v", err)
				}
				if strings.Contains(report, "warning:") {
					t.Errorf("check-config warns:\n%s", report)
				}
			})
			checked++
		}
	}
	if checked < 2 {
		t.Errorf("checked %d configurations; README.md and docs/deploy.md show one each", checked)
	}
}

const fragmentMark = "# added to the configuration above"

// mergeYAML returns base with add's keys laid over it, maps merged key by
// key; neither argument changes.
func mergeYAML(base, add map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range add {
		b, bok := out[k].(map[string]any)
		a, aok := v.(map[string]any)
		if bok && aok {
			out[k] = mergeYAML(b, a)
			continue
		}
		out[k] = v
	}
	return out
}

// fieldsOf names the YAML file's top-level keys.
func fieldsOf(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	v := DefaultConfig()
	j, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	for k := range m {
		out[k] = true
	}
	return out
}
