package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// faultsFile is docs/reliability-faults.json: the fuzz targets, and the
// in-process fault tests with how many faults each injects.
type faultsFile struct {
	Fuzz []struct {
		Package string `json:"package"`
		Target  string `json:"target"`
	} `json:"fuzz"`
	Faults []struct {
		Name string `json:"name"`
		// Test is "./pkg TestName" (or "./pkg TestName/subtest").
		Test     string `json:"test"`
		Injected int    `json:"injected"`
	} `json:"faults"`
}

const faultsPath = "docs/reliability-faults.json"

// fuzzPhase fuzzes each target briefly, and runs the in-process fault
// tests that docs/reliability-faults.json lists.
func (h *harness) fuzzPhase(ctx context.Context) error {
	ff, err := readFaults(filepath.Join(h.root, faultsPath))
	if err != nil {
		return err
	}
	type target struct{ pkg, name string }
	var targets []target
	for _, t := range ff.Fuzz {
		targets = append(targets, target{t.Package, t.Target})
	}
	if len(targets) == 0 {
		found, err := findFuzzTargets(h.root)
		if err != nil {
			return err
		}
		for _, t := range found {
			targets = append(targets, target{t[0], t[1]})
		}
		h.count(func(f *figures) {
			f.finding("fuzz: %s lists no fuzz target; fuzzed the %d found by `func Fuzz`", faultsPath, len(found))
		})
	}
	for _, t := range targets {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.debug("fuzzing %s %s for %s", t.pkg, t.name, h.opt.fuzzTime)
		out := filepath.Join(h.dir, "output", "fuzz-"+t.name+".txt")
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		ferr := h.gocmd(ctx, nil, f, "test", "-run=^$", "-fuzz=^"+t.name+"$", "-fuzztime="+h.opt.fuzzTime.String(), t.pkg)
		if err := f.Close(); err != nil {
			return err
		}
		h.scan.addFile("fuzz output "+t.name, out)
		if _, err := h.scan.scanFiles(); err != nil {
			return err
		}
		why, race := "", false
		if ferr != nil {
			data, _ := os.ReadFile(out)
			why, race = fuzzFailure(data), coordinatorRace(data)
		}
		h.count(func(f *figures) {
			f.FuzzTargets++
			switch {
			case ferr == nil:
			case race:
				f.FuzzCoordinatorRaces++
				f.finding("fuzz: %s %s was cut short by Go 1.26's fuzz-coordinator race (go.dev/issue/75804): no input failed", t.pkg, t.name)
			default:
				f.FuzzPanics++
				f.finding("fuzz: %s %s failed: %s", t.pkg, t.name, why)
			}
		})
	}
	return h.faultTests(ctx, ff)
}

// faultTests runs the in-process fault tests (those of the end-to-end
// packages ran in the leak scan already) and counts the faults of those
// that passed as survived.
func (h *harness) faultTests(ctx context.Context, ff faultsFile) error {
	byPkg := map[string][]string{}
	for _, f := range ff.Faults {
		pkg, test, ok := strings.Cut(f.Test, " ")
		if !ok {
			return fmt.Errorf("%s: fault %q: test %q is not \"./pkg TestName\"", faultsPath, f.Name, f.Test)
		}
		if _, done := h.e2e[pkg+" "+test]; !done {
			top, _, _ := strings.Cut(test, "/")
			if !slices.Contains(byPkg[pkg], top) {
				byPkg[pkg] = append(byPkg[pkg], top)
			}
		}
	}
	results := maps.Clone(h.e2e)
	if results == nil {
		results = testResults{}
	}
	for _, pkg := range slices.Sorted(maps.Keys(byPkg)) {
		h.debug("fault tests of %s: %s", pkg, strings.Join(byPkg[pkg], " "))
		res, err := h.goTest(ctx, "faults-"+strings.ReplaceAll(strings.Trim(pkg, "./"), "/", "-"), nil,
			"test", "-count=1", "-json", "-run", "^("+strings.Join(byPkg[pkg], "|")+")$", pkg)
		if err != nil {
			return err
		}
		for k, v := range res {
			results[k] = v
		}
	}
	if _, err := h.scan.scanFiles(); err != nil {
		return err
	}
	h.count(func(fig *figures) {
		fig.InProcessFaultTest = len(ff.Faults)
		for _, f := range ff.Faults {
			fig.InProcessFaults += f.Injected
			fig.FaultsInjected += f.Injected
			switch results[f.Test] {
			case "pass":
				fig.InProcessSurvived += f.Injected
				fig.FaultsSurvived += f.Injected
			case "":
				fig.finding("faults: %s (%s) did not run", f.Name, f.Test)
			default:
				fig.finding("faults: %s (%s): %s", f.Name, f.Test, results[f.Test])
			}
		}
	})
	return nil
}

func readFaults(path string) (faultsFile, error) {
	var ff faultsFile
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ff, nil
	}
	if err != nil {
		return ff, err
	}
	if err := json.Unmarshal(data, &ff); err != nil {
		return ff, fmt.Errorf("%s: %w", faultsPath, err)
	}
	return ff, nil
}

var fuzzFunc = regexp.MustCompile(`^func (Fuzz\w+)\(\w+ \*testing\.F\)`)

// findFuzzTargets lists every fuzz target in the module as
// {"./pkg", "FuzzX"}.
func findFuzzTargets(root string) ([][2]string, error) {
	var out [][2]string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := fuzzFunc.FindStringSubmatch(sc.Text()); m != nil {
				out = append(out, [2]string{"./" + filepath.ToSlash(rel), m[1]})
			}
		}
		return sc.Err()
	})
	return out, err
}

// coordinatorRace reports whether a failed fuzz run is Go 1.26's fuzz
// coordinator race (go.dev/issue/75804, fixed in Go 1.27): the run stops
// at -fuzztime with a bare "context deadline exceeded" though no input
// failed, so no failing input was written and nothing panicked.
// scripts/fuzz.sh applies the same rule for `make fuzz`.
func coordinatorRace(out []byte) bool {
	s := string(out)
	return strings.Contains(s, "context deadline exceeded") &&
		!strings.Contains(s, "Failing input written to") && !strings.Contains(s, "panic:")
}

// fuzzFailure picks the lines that say why a fuzz run failed.
func fuzzFailure(out []byte) string {
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "--- FAIL") || strings.Contains(l, "Failing input written to") || strings.HasPrefix(l, "FAIL") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return tail(string(out), 3)
	}
	return strings.Join(keep, " / ")
}
