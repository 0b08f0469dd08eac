package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Outputs of `go test -fuzz` as Go 1.26 prints them.
const (
	raceOutput = "fuzz: elapsed: 3s, execs: 16229 (5409/sec), new interesting: 0 (total: 357)\n" +
		"--- FAIL: FuzzParseAlert (3.11s)\n    context deadline exceeded\nFAIL\nexit status 1\nFAIL\tgithub.com/alphagov/signon-token-bot/commands\t3.121s\n"
	failedInput = "--- FAIL: FuzzParseAlert (0.41s)\n    --- FAIL: FuzzParseAlert (0.00s)\n        fuzz_test.go:40: ParseAlert(ctx, \"x\"): context deadline exceeded\n\n" +
		"    Failing input written to testdata/fuzz/FuzzParseAlert/2c5f3b1a\n    To re-run:\n    go test -run=FuzzParseAlert/2c5f3b1a\nFAIL\n"
	panicked = "--- FAIL: FuzzEscape (0.20s)\n    --- FAIL: FuzzEscape (0.00s)\n        testing.go:1591: panic: runtime error: index out of range [3] with length 3\n" +
		"    Failing input written to testdata/fuzz/FuzzEscape/9a0e\nFAIL\n"
	hung = "--- FAIL: FuzzSlashCommand (10.02s)\n    fuzzing process hung or terminated unexpectedly: exit status 2\n    Failing input written to testdata/fuzz/FuzzSlashCommand/77\nFAIL\n"
)

func TestCoordinatorRace(t *testing.T) {
	for _, c := range []struct {
		name, out string
		race      bool
	}{
		{"the coordinator's race", raceOutput, true},
		{"an input that failed, saying context deadline exceeded", failedInput, false},
		{"a panic", panicked, false},
		{"a hung worker", hung, false},
	} {
		if got := coordinatorRace([]byte(c.out)); got != c.race {
			t.Errorf("%s: coordinatorRace = %v, want %v", c.name, got, c.race)
		}
	}
}

// TestFuzzScript runs scripts/fuzz.sh over a stand-in for go that prints
// each kind of outcome: only the coordinator's race is let through.
func TestFuzzScript(t *testing.T) {
	script, err := filepath.Abs("../../scripts/fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, out string
		code      int
		wantFail  bool
	}{
		{"a clean run", "PASS\n", 0, false},
		{"the coordinator's race", raceOutput, 1, false},
		{"an input that failed", failedInput, 1, true},
		{"a panic", panicked, 1, true},
		{"a hung worker", hung, 1, true},
		{"a build failure", "# github.com/alphagov/signon-token-bot/commands\nx.go:1: syntax error\nFAIL\n", 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "out"), []byte(c.out), 0o600); err != nil {
				t.Fatal(err)
			}
			fakeGo := filepath.Join(dir, "go")
			stub := "#!/bin/sh\ncat '" + filepath.Join(dir, "out") + "'\nexit " + string(rune('0'+c.code)) + "\n"
			if err := os.WriteFile(fakeGo, []byte(stub), 0o700); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(script, "./commands:FuzzParseAlert")
			cmd.Env = append(os.Environ(), "GO="+fakeGo, "FUZZTIME=3s")
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != c.wantFail {
				t.Fatalf("fuzz.sh failed: %v, want %v; it printed:\n%s", failed, c.wantFail, out)
			}
			if c.wantFail && !strings.Contains(string(out), strings.SplitN(c.out, "\n", 2)[0]) {
				t.Errorf("a failure's output is not shown:\n%s", out)
			}
		})
	}
}
