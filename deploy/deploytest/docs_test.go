package deploytest

import (
	"go/ast"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/alphagov/signon-token-bot/integrations/kube/rbaccheck"
)

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// docs/security.md explains every rule of the shipped Role, with exactly
// its verbs, and no rule the Role lacks.
func TestSecurityDocExplainsEveryRule(t *testing.T) {
	doc := readDoc(t, "security.md")
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z/]+)` \\| ([^|]+) \\|").FindAllStringSubmatch(doc, -1) {
		rows[m[1]] = m[2]
	}
	role := rbaccheck.ReadRole(t, filepath.Join(chartDir, "rbac", "role.yaml"))
	seen := map[string]bool{}
	for _, r := range role.Rules {
		for _, res := range r.Resources {
			seen[res] = true
			row, ok := rows[res]
			if !ok {
				t.Errorf("docs/security.md has no row for %s, which the Role grants %v", res, r.Verbs)
				continue
			}
			var verbs []string
			for _, m := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(row, -1) {
				verbs = append(verbs, m[1])
			}
			if !slices.Equal(verbs, r.Verbs) {
				t.Errorf("docs/security.md gives %s the verbs %v; the Role grants %v", res, verbs, r.Verbs)
			}
		}
	}
	for res := range rows {
		if !seen[res] {
			t.Errorf("docs/security.md explains %s, which the Role does not grant", res)
		}
	}
}

// docs/operations.md describes every metric the code registers, and no
// other.
func TestOperationsDocNamesEveryMetric(t *testing.T) {
	doc := readDoc(t, "operations.md")
	metric := regexp.MustCompile(`^signon_token_bot_[a-z_]+$`)
	inCode := map[string]string{}
	for _, f := range botSources(t) {
		ast.Inspect(f.file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && metric.MatchString(s) {
					inCode[s] = f.where(lit.Pos())
				}
			}
			return true
		})
	}
	if len(inCode) == 0 {
		t.Fatal("found no metric names in the code: the scan is broken")
	}
	for _, name := range sortedKeys(inCode) {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/operations.md does not describe %s (%s)", name, inCode[name])
		}
	}
	for _, m := range regexp.MustCompile("`(signon_token_bot_[a-z_]+)`").FindAllStringSubmatch(doc, -1) {
		if _, ok := inCode[m[1]]; !ok {
			t.Errorf("docs/operations.md describes %s, which the code does not register", m[1])
		}
	}
}

// freeForm values hold whatever Kubernetes or the bot takes; the docs
// name them, not their insides.
var freeForm = []string{"config", "resources", "podAnnotations", "podLabels", "nodeSelector", "affinity", "annotations", "labels", "global"}

// docs/deploy.md names every value the chart takes.
func TestDeployDocNamesEveryValue(t *testing.T) {
	doc := readDoc(t, "deploy.md")
	b, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	var leaves []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for _, k := range sortedKeys(m) {
			path := prefix + k
			sub, isMap := m[k].(map[string]any)
			if isMap && len(sub) > 0 && !slices.Contains(freeForm, k) {
				walk(path+".", sub)
				continue
			}
			leaves = append(leaves, path)
		}
	}
	walk("", values)
	for _, l := range leaves {
		if !strings.Contains(doc, "`"+l+"`") {
			t.Errorf("docs/deploy.md does not name the value %s", l)
		}
	}
}
