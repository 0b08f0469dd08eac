package deploytest

import (
	"bufio"
	"bytes"
	"debug/elf"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// dockerignore is a .dockerignore file: patterns in order, the last one
// that matches a path (or a directory above it) deciding, "!" re-including.
type dockerignore []struct {
	re      *regexp.Regexp
	include bool
}

func readDockerignore(t *testing.T, path string) dockerignore {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var d dockerignore
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		include := strings.HasPrefix(line, "!")
		line = strings.TrimPrefix(filepath.Clean(strings.TrimPrefix(line, "!")), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		d = append(d, struct {
			re      *regexp.Regexp
			include bool
		}{regexp.MustCompile(re.String()), include})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

// excluded says whether path (slash-separated, relative to the context)
// stays out of the build context.
func (d dockerignore) excluded(path string) bool {
	out := false
	for _, p := range d {
		for sub := path; ; {
			if p.re.MatchString(sub) {
				out = !p.include
				break
			}
			i := strings.LastIndex(sub, "/")
			if i < 0 {
				break
			}
			sub = sub[:i]
		}
	}
	return out
}

// buildContext copies the files the image's build context holds into a
// new directory and returns it.
func buildContext(t *testing.T) string {
	t.Helper()
	ignore := readDockerignore(t, filepath.Join(repoRoot, ".dockerignore"))
	dst := t.TempDir()
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == repoRoot {
			return err
		}
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil {
			return err
		}
		if ignore.excluded(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// buildBot runs scripts/build-bot.sh from the tree at root.
func buildBot(t *testing.T, root, out, version string) {
	t.Helper()
	cmd := exec.Command("sh", filepath.Join(root, "scripts", "build-bot.sh"), out, version)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-bot.sh in %s: %v\n%s", root, err, b)
	}
}

// The Go build the Dockerfile wraps, run here because no container engine
// does: from the files .dockerignore lets into the context, the binary is
// static, runs, and is byte for byte the one built from the checkout in
// another directory (the build is reproducible).
func TestDockerBuildIsStaticAndReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bot twice; not with -short")
	}
	const version = "v9.8.7-test"
	dir := t.TempDir()
	fromContext := filepath.Join(dir, "context-bot")
	fromCheckout := filepath.Join(dir, "checkout-bot")
	// CGO_ENABLED=1 in the environment: the script must turn it off itself.
	context := buildContext(t)
	buildBot(t, context, fromContext, version)
	buildBot(t, repoRoot, fromCheckout, version)

	a, err := os.ReadFile(fromContext)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fromCheckout)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("the binaries built from two directories differ (%d and %d bytes): the build is not reproducible", len(a), len(b))
	}
	checkout, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(a, []byte(context)) || bytes.Contains(b, []byte(checkout)) {
		t.Error("a binary holds the path of the tree it was built from: -trimpath is not in effect")
	}

	f, err := elf.Open(fromContext)
	if err != nil {
		t.Fatalf("the bot is not an ELF binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Error("the binary has a .dynamic section: it is dynamically linked")
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}

	out, err := exec.Command(fromContext, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("bot version: %v\n%s", err, out)
	}
	if want := "signon-token-bot " + version + " (" + runtime.Version() + ")\n"; string(out) != want {
		t.Errorf("bot version printed %q, want %q", out, want)
	}

	// The shipped bytes, beside TestShippedBinaryHoldsNoDoubles's listing:
	// a stripped binary keeps its functions' names for tracebacks.
	if !bytes.Contains(a, []byte(module+"integrations/slack.")) {
		t.Fatal("the binary names no function of integrations/slack: the search for doubles below would find nothing either")
	}
	for _, double := range []string{module + "integrations/slack/slacktest", module + "integrations/signon/signontest",
		module + "integrations/kube/clustertest", module + "integrations/sandbox", "github.com/alicebob/miniredis", "github.com/yuin/gopher-lua"} {
		if bytes.Contains(a, []byte(double)) {
			t.Errorf("the binary holds code of %s", double)
		}
	}
}

// The Dockerfile builds with scripts/build-bot.sh and nothing else, and
// runs the result without a shell as a numeric non-root user.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continued lines, drop comments.
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(b), " ")
	var stages [][]string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], line)
		}
	}
	if len(stages) != 2 {
		t.Fatalf("want a build stage and a runtime stage, found %d stages", len(stages))
	}
	if strings.Contains(text, "go build") || strings.Contains(text, "go install") {
		t.Error("the Dockerfile runs the go build itself; it must call scripts/build-bot.sh, which the test checks")
	}
	builds := 0
	for _, l := range stages[0] {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "scripts/build-bot.sh /out/signon-token-bot") {
			builds++
		}
	}
	if builds != 1 {
		t.Errorf("the build stage runs scripts/build-bot.sh %d times, want once", builds)
	}

	args := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^ARG (\w+)=(\S+)`).FindAllStringSubmatch(text, -1) {
		args[m[1]] = m[2]
	}
	if !regexp.MustCompile(`^golang:1\.\d+\.\d+-`).MatchString(args["GO_IMAGE"]) {
		t.Errorf("GO_IMAGE %q is not pinned to a Go patch release", args["GO_IMAGE"])
	}
	if goVersion := strings.TrimPrefix(runtime.Version(), "go"); !strings.HasPrefix(args["GO_IMAGE"], "golang:"+goVersion+"-") {
		t.Errorf("GO_IMAGE %q is not the Go this test runs on (%s)", args["GO_IMAGE"], goVersion)
	}
	if !strings.HasPrefix(args["RUNTIME_IMAGE"], "gcr.io/distroless/static") {
		t.Errorf("RUNTIME_IMAGE %q is not distroless/static: the image must hold no shell", args["RUNTIME_IMAGE"])
	}

	final := strings.Join(stages[1], "\n")
	if !strings.HasPrefix(stages[1][0], "FROM ${RUNTIME_IMAGE}") {
		t.Errorf("the runtime stage starts %q", stages[1][0])
	}
	if m := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindStringSubmatch(final); m == nil || m[1] == "0" || m[2] == "0" {
		t.Errorf("the runtime stage has no numeric non-root USER uid:gid")
	}
	if regexp.MustCompile(`(?m)^RUN `).MatchString(final) {
		t.Error("the runtime stage has a RUN: there is no shell to run it")
	}
	if !regexp.MustCompile(`(?m)^ENTRYPOINT \["/signon-token-bot"\]$`).MatchString(final) {
		t.Error("ENTRYPOINT is not the exec form [\"/signon-token-bot\"]")
	}
}
