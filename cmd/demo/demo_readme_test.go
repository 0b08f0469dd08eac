package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/integrations/sandbox/scenario"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// between is the text after start and before the next end.
func between(t *testing.T, text, start, end string) string {
	t.Helper()
	_, after, ok := strings.Cut(text, start)
	if !ok {
		t.Fatalf("no %q in:\n%s", start, text)
	}
	in, _, ok := strings.Cut(after, end)
	if !ok {
		t.Fatalf("no %q after %q", end, start)
	}
	return in
}

// The README's quick start begins with the demo, as one command.
func TestReadmeQuickStartRunsTheDemo(t *testing.T) {
	block := between(t, readme(t), "## Quick start", "\n```\n")
	_, block, _ = strings.Cut(block, "```sh\n")
	if first, _, _ := strings.Cut(block, "\n"); !strings.HasPrefix(first, "go run ./cmd/demo ") {
		t.Errorf("the quick start's first command is %q, want go run ./cmd/demo", first)
	}
}

// The README's picture of a thread is what `go run ./cmd/demo` prints
// today, but for the run's id and the fingerprints, which are new on every
// run, and the durations, which grow on a loaded machine ("under a
// second" becomes "1s").
func TestReadmeThreadIsTheDemos(t *testing.T) {
	out, errOut, err := demoRun(t, nil, "", "-scenario", scenario.Alert)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	fresh := []string{`\br-[a-z0-9]{16}\b`, `\b[0-9a-f]{8,16}\b`, `\bunder a second\b|\b[0-9]+(\.[0-9]+)?(ms|s|m)\b`}
	mask := func(s string) string {
		for _, re := range fresh {
			s = regexp.MustCompile(re).ReplaceAllString(s, "…")
		}
		return strings.TrimSpace(s)
	}
	pictured := mask(between(t, readme(t), "## What it looks like", "\n```\n"))
	_, pictured, _ = strings.Cut(pictured, "```text\n")
	printed := mask(between(t, out, "the alert's thread:\n", "\nAudit trail"))
	if pictured != printed {
		t.Errorf("README.md's thread is not what `go run ./cmd/demo` prints now; paste the new one. The demo prints:\n%s", printed)
	}
}

// The README's table of scenarios names every one -list does.
func TestReadmeListsEveryScenario(t *testing.T) {
	table := between(t, readme(t), "| scenario | shows |", "\n\n")
	for _, s := range scenario.List() {
		if !regexp.MustCompile("\\n\\| `" + regexp.QuoteMeta(s.Name) + "`( \\(default\\))? \\| ").MatchString(table) {
			t.Errorf("README.md's scenario table has no row for %s", s.Name)
		}
	}
}
