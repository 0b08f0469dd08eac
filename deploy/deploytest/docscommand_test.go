package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"sigs.k8s.io/yaml"
)

// docs/deploy.md's pre-install check runs as written: its `docker run`
// line, played by chroot into a root holding only the image's binary and
// the files the line mounts (the guide's config block as c.yaml, and the
// kubeconfig step 1 built), with only the variables it sets.
func TestDeployGuideCheckRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bot; not with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("playing `docker run` needs chroot, which needs root")
	}
	doc := readDoc(t, "deploy.md")
	line := regexp.MustCompile(`(?m)^docker run .*check-config$`).FindString(doc)
	if line == "" {
		t.Fatal("docs/deploy.md has no `docker run ... check-config` line")
	}
	values := regexp.MustCompile("(?s)`production.yaml`:\n\n```yaml\n(.*?)```").FindStringSubmatch(doc)
	if values == nil {
		t.Fatal("docs/deploy.md has no production.yaml block")
	}
	var prod map[string]any
	if err := yaml.Unmarshal([]byte(values[1]), &prod); err != nil {
		t.Fatal(err)
	}
	cYAML, err := yaml.Marshal(prod["config"])
	if err != nil {
		t.Fatal(err)
	}

	// The directory the guide runs in: c.yaml, and step 1's kubeconfig,
	// which kubectl writes readable by its owner only.
	pwd := t.TempDir()
	writeFile(t, filepath.Join(pwd, "c.yaml"), cYAML, 0o644)
	writeFile(t, filepath.Join(pwd, "config"), []byte(integrationKubeconfig), 0o600)

	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	entry := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"\]`).FindSubmatch(dockerfile)
	if entry == nil {
		t.Fatal("the Dockerfile has no ENTRYPOINT [\"...\"]")
	}
	root := t.TempDir()
	buildBot(t, repoRoot, filepath.Join(root, string(entry[1])), "v1.2.3")

	words := shellWords(t, strings.NewReplacer("$PWD", pwd, "$(id -u)", strconv.Itoa(os.Getuid())).Replace(line))
	cred := &syscall.Credential{Uid: 65532, Gid: 65532} // the image's user
	var env, args []string
	image := ""
	for i := 2; i < len(words); i++ {
		w := words[i]
		switch {
		case image != "":
			args = append(args, w)
		case w == "--rm":
		case w == "--user" || w == "-e" || w == "-v":
			i++
			if i == len(words) {
				t.Fatalf("%s has no value in %q", w, line)
			}
			switch w {
			case "--user":
				uid, err := strconv.Atoi(words[i])
				if err != nil {
					t.Fatalf("--user %q", words[i])
				}
				cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}
			case "-e":
				env = append(env, words[i])
			case "-v":
				parts := strings.Split(words[i], ":")
				src, err := os.ReadFile(parts[0])
				if err != nil {
					t.Fatalf("-v %s: %v", words[i], err)
				}
				info, _ := os.Stat(parts[0])
				writeFile(t, filepath.Join(root, parts[1]), src, info.Mode().Perm())
			}
		case strings.HasPrefix(w, "-"):
			t.Fatalf("the test does not know docker run's %s", w)
		default:
			image = w
		}
	}
	cmd := exec.Command(string(entry[1]), args...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s\n%v:\n%s", line, err, out)
	}
	for _, want := range []string{
		"configuration is valid\n",
		"environment integration: rotated",
		"note: environment production uses the pod's ServiceAccount (no kubeconfig): checked only inside a pod\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "warning:") {
		t.Errorf("the guide's configuration draws warnings:\n%s", out)
	}
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// shellWords splits a command line as sh would, for the double quotes
// the guide uses.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
			}
			inWord = false
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quotes in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
