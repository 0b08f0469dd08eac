package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// modulePath is the module's import path, which `go test -json` names
// packages by.
const modulePath = "github.com/alphagov/signon-token-bot"

// testResults are the outcomes ("pass", "fail", "skip") of a `go test
// -json`, by "./pkg TestName/sub", and "./pkg" for a package.
type testResults map[string]string

func (r testResults) failed() []string {
	var out []string
	for k, v := range r {
		if v == "fail" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// goTest runs `go test -json ...`, keeps its output for the scan and
// returns the outcomes. A run whose tests fail is not an error; one that
// reports nothing (it did not build) is.
func (h *harness) goTest(ctx context.Context, name string, env []string, args ...string) (testResults, error) {
	path := filepath.Join(h.dir, "output", name+".json")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	runErr := h.gocmd(ctx, env, f, args...)
	if err := f.Close(); err != nil {
		return nil, err
	}
	h.scan.addFile(name+" test output", path)
	res, err := readTestJSON(path)
	if err != nil {
		return nil, err
	}
	if runErr != nil && len(res) == 0 {
		return nil, runErr
	}
	return res, nil
}

func readTestJSON(path string) (testResults, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := testResults{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			Action, Package, Test string
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue // the go command's own words, a build error
		}
		switch ev.Action {
		case "pass", "fail", "skip":
			key := relPackage(ev.Package)
			if ev.Test != "" {
				key += " " + ev.Test
			}
			res[key] = ev.Action
		}
	}
	return res, sc.Err()
}

// relPackage turns an import path of the module into "./dir".
func relPackage(p string) string {
	if p == modulePath {
		return "."
	}
	if rest, ok := strings.CutPrefix(p, modulePath+"/"); ok {
		return "./" + rest
	}
	return p
}
