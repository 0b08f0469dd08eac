package main

import (
	"os"
	"reflect"
	"regexp"
	"slices"
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

// The README's picture of a thread is what `bot demo` prints today, but
// for the run's id and the fingerprints, which are new on every run.
func TestReadmeThreadIsTheDemos(t *testing.T) {
	out, errOut, err := demoRun(t, nil, "", "-scenario", scenario.Alert)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	fresh := []string{`\br-[a-z0-9]{16}\b`, `\b[0-9a-f]{8,16}\b`}
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
		t.Errorf("README.md's thread is not what `go run ./cmd/bot demo` prints now; paste the new one. The demo prints:\n%s", printed)
	}
}

// README.md names every environment variable the bot reads and every key
// of its YAML file, and its tables name nothing else.
func TestReadmeNamesEveryConfigKey(t *testing.T) {
	doc := readme(t)
	var read []string
	env := validEnv()
	if _, err := loadConfig(func(k string) string { read = append(read, k); return env[k] }, ""); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z_]+)`(?:, `([A-Z_]+)`)? \\|").FindAllStringSubmatch(doc, -1) {
		documented[m[1]], documented[m[2]] = true, m[2] != ""
	}
	for _, k := range read {
		if !documented[k] {
			t.Errorf("README.md's table of environment variables lacks %s, which the bot reads", k)
		}
	}
	for k, ok := range documented {
		if ok && !slices.Contains(read, k) {
			t.Errorf("README.md documents %s, which the bot does not read", k)
		}
	}

	var keys []string
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for ty.Kind() == reflect.Map || ty.Kind() == reflect.Slice {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || ty == liveCheckType {
			return
		}
		for i := range ty.NumField() {
			f := ty.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" || slices.Contains(keys, name) {
				continue
			}
			keys = append(keys, name)
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[Config]())
	if len(keys) < 20 {
		t.Fatalf("found only the keys %v: the walk is broken", keys)
	}
	for _, k := range keys {
		if !strings.Contains(doc, "`"+k+"`") && !regexp.MustCompile(`[\s{-]`+k+`:`).MatchString(doc) {
			t.Errorf("README.md does not name the YAML key %s", k)
		}
	}
	table := between(t, doc, "| key | default | meaning |", "\n\nUsers are")
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-zA-Z]+)` \\|").FindAllStringSubmatch(table, -1) {
		if !slices.Contains(keys, m[1]) {
			t.Errorf("README.md's table of environment settings names %s, which the bot does not take", m[1])
		}
	}
}
