package deploytest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// costlyAtIdle names packages the image's binary must not link in,
// although nothing in them is a test double, and says why: their package
// initialisers and first-touched code cost resident memory in an idle bot
// (docs/benchmarks.md), and the bot does the little it needs of them
// itself.
var costlyAtIdle = map[string]string{
	"k8s.io/client-go/tools/cache": "client-go's informers, whose package initialisers (and those of " +
		"apis/meta/internalversion, tools/pager, util/watchlist, util/consistencydetector and more they bring) " +
		"cost resident memory at idle: integrations/kube keeps its own list-and-watch (listwatch.go)",
}

// The image's binary links in none of costlyAtIdle. The check is shown to
// catch one in a package that does link it in (kubetest, whose stand-in
// kubelet runs informers).
func TestShippedBinaryLeavesOutCostlyPackages(t *testing.T) {
	shipped := shippedDeps(t)
	for pkg, why := range costlyAtIdle {
		if _, ok := shipped[pkg]; ok {
			t.Errorf("the production binary links in %s, imported by %s: it must not, as it is %s", pkg, strings.Join(shipped.importers(pkg), ", "), why)
		}
	}

	kubetest := listDeps(t, exec.Command("go", "list", "-deps", "-f", listFormat, "./integrations/kube/kubetest"))
	if _, ok := kubetest["k8s.io/client-go/tools/cache"]; !ok {
		t.Error("the check does not see k8s.io/client-go/tools/cache in integrations/kube/kubetest, which links it in")
	}
}

// importers lists, sorted, the packages in deps that import pkg.
func (deps pkgDeps) importers(pkg string) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for p, imports := range deps {
			if slices.Contains(imports, pkg) && !yield(p) {
				return
			}
		}
	})
}
