package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/alphagov/signon-token-bot/"

// pkgDeps maps each package a build links in to the packages it imports.
type pkgDeps map[string][]string

// shippedDeps lists what scripts/build-bot.sh links into the image's
// binary: the script's own -deps mode, so that the package, flags, tags
// and environment are the build's.
func shippedDeps(t *testing.T) pkgDeps {
	t.Helper()
	return listDeps(t, exec.Command("sh", filepath.Join("scripts", "build-bot.sh"), "-deps", "-f", listFormat))
}

const listFormat = `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`

func listDeps(t *testing.T, cmd *exec.Cmd) pkgDeps {
	t.Helper()
	if cmd.Dir == "" {
		cmd.Dir = repoRoot
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	deps := pkgDeps{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		deps[f[0]] = f[1:]
	}
	if len(deps) < 100 {
		t.Fatalf("%s listed only %d packages: the listing is broken", strings.Join(cmd.Args, " "), len(deps))
	}
	return deps
}

// testOnly says why a package is a test double or a test helper, "" if
// it is not one: such packages must not reach the production binary.
func testOnly(pkg string) string {
	if rest, ok := strings.CutPrefix(pkg, module); ok {
		switch {
		case strings.HasSuffix(filepath.Base(rest), "test"):
			return "a test helper package (named *test)"
		case strings.HasPrefix(rest, "integrations/sandbox"):
			return "the sandbox, which stands in for Signon and the cluster"
		case strings.HasSuffix(rest, "/signonlite"), strings.HasSuffix(rest, "/rbaccheck"):
			return "a test harness"
		case strings.HasPrefix(rest, "cmd/") && rest != "cmd/bot" && !strings.HasPrefix(rest, "cmd/internal/"):
			return "another command"
		}
		return ""
	}
	switch {
	case strings.HasPrefix(pkg, "github.com/alicebob/miniredis"):
		return "miniredis, an in-memory Redis for tests"
	case strings.HasPrefix(pkg, "github.com/yuin/gopher-lua"):
		return "gopher-lua, which miniredis runs scripts with"
	case pkg == "testing", strings.HasPrefix(pkg, "testing/"), pkg == "net/http/httptest":
		return "the standard library's test support"
	}
	return ""
}

// doubles names every test-only package in deps, and who imports it.
func (deps pkgDeps) doubles() []string {
	var found []string
	for pkg := range deps {
		why := testOnly(pkg)
		if why == "" {
			continue
		}
		var by []string
		for p, imports := range deps {
			if slices.Contains(imports, pkg) {
				by = append(by, p)
			}
		}
		slices.Sort(by)
		found = append(found, pkg+" ("+why+"), imported by "+strings.Join(by, ", "))
	}
	slices.Sort(found)
	return found
}

// The image's binary links in no test double, fake, sandbox or test
// helper: nothing in it can stand in for Slack, Redis, Signon or a
// cluster. The check is shown to catch them in the commands that do
// link them in.
func TestShippedBinaryHoldsNoDoubles(t *testing.T) {
	shipped := shippedDeps(t)
	if _, ok := shipped[module+"cmd/bot"]; !ok {
		t.Fatal("build-bot.sh -deps does not list cmd/bot: it no longer builds the bot")
	}
	for _, d := range shipped.doubles() {
		t.Errorf("the production binary links in %s", d)
	}

	demo := listDeps(t, exec.Command("go", "list", "-deps", "-f", listFormat, "./cmd/demo")).doubles()
	for _, want := range []string{"integrations/slack/slacktest", "integrations/signon/signontest", "integrations/kube/clustertest", "github.com/alicebob/miniredis/v2 ", "github.com/yuin/gopher-lua "} {
		if !slices.ContainsFunc(demo, func(d string) bool { return strings.Contains(d, want) }) {
			t.Errorf("the check does not see %s in cmd/demo, which links it in; it found:\n%s", want, strings.Join(demo, "\n"))
		}
	}

	// cmd/bench and cmd/reliability measure cmd/sandboxbot: it must be the
	// shipped bot and the sandbox's client, nothing more. Built with -tags
	// profile (make bench's -cpuprofile and -memprofile) it adds
	// runtime/pprof, which writes the profiles asked for. Without the tag
	// it must not: a linked profiler keeps the runtime's heap sampling on,
	// which the shipped bot's linker turns off, and the memory figures
	// would count it.
	for _, c := range []struct {
		tags string
		want []string
	}{
		{"", []string{module + "cmd/sandboxbot", module + "integrations/sandbox"}},
		{"profile", []string{module + "cmd/sandboxbot", module + "integrations/sandbox", "runtime/pprof"}},
	} {
		list := exec.Command("go", "list", "-tags", c.tags, "-deps", "-f", listFormat, "./cmd/sandboxbot")
		list.Env = append(os.Environ(), "CGO_ENABLED=0")
		var extra []string
		for pkg := range listDeps(t, list) {
			if _, ok := shipped[pkg]; !ok {
				extra = append(extra, pkg)
			}
		}
		slices.Sort(extra)
		if !slices.Equal(extra, c.want) {
			t.Errorf("cmd/sandboxbot (tags %q) links in %v beyond the shipped bot's packages, want only %v", c.tags, extra, c.want)
		}
	}
}
