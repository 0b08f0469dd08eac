package bot

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// README.md names every environment variable the bot reads and every key
// of its YAML file, and its tables name nothing else.
func TestReadmeNamesEveryConfigKey(t *testing.T) {
	raw, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
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
	_, table, _ := strings.Cut(doc, "| key | default | meaning |")
	table, _, ok := strings.Cut(table, "\n\nUsers are")
	if !ok {
		t.Fatal("README.md has no table of environment settings followed by \"Users are\"")
	}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-zA-Z]+)` \\|").FindAllStringSubmatch(table, -1) {
		if !slices.Contains(keys, m[1]) {
			t.Errorf("README.md's table of environment settings names %s, which the bot does not take", m[1])
		}
	}
}
