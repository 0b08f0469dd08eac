package deploytest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the module's root, from this package's directory.
const repoRoot = "../.."

// goFile is one parsed source file.
type goFile struct {
	path string
	fset *token.FileSet
	file *ast.File
}

// parseDir parses the non-test Go files directly in dir.
func parseDir(t *testing.T, dir string) []goFile {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []goFile
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, parseSource(t, filepath.Join(dir, name), string(src)))
	}
	return files
}

func parseSource(t *testing.T, path, src string) goFile {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	return goFile{path: path, fset: fset, file: f}
}

// botSources parses every non-test Go file linked into the bot: the
// module's packages that ./cmd/bot depends on, less test helper packages
// (directories named *test, which fake Slack and the cluster rather than
// call them). Harness programs such as cmd/bench, whose baseline is a bare
// Slack client, are not the bot and are not scanned.
func botSources(t *testing.T) []goFile {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", "./cmd/bot")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list the bot's packages: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var files []goFile
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") || strings.HasSuffix(filepath.Base(dir), "test") {
			continue
		}
		files = append(files, parseDir(t, filepath.Join(repoRoot, rel))...)
	}
	if len(files) == 0 {
		t.Fatal("go list found none of the bot's sources")
	}
	return files
}

// where names a position for a failure message.
func (f goFile) where(p token.Pos) string {
	pos := f.fset.Position(p)
	rel, err := filepath.Rel(repoRoot, pos.Filename)
	if err != nil {
		rel = pos.Filename
	}
	return fmt.Sprintf("%s:%d", rel, pos.Line)
}

// importName is the name file uses for the package at path, "" if it does
// not import it.
func (f goFile) importName(path string) string {
	for _, imp := range f.file.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if p != path {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return path[strings.LastIndex(path, "/")+1:]
	}
	return ""
}

// qualified returns the names used as pkg.Name in f, where pkg is the
// package at path, with where each is.
func (f goFile) qualified(path string) map[string][]string {
	alias := f.importName(path)
	out := map[string][]string{}
	if alias == "" || alias == "_" {
		return out
	}
	ast.Inspect(f.file, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == alias {
			out[sel.Sel.Name] = append(out[sel.Sel.Name], f.where(sel.Pos()))
		}
		return true
	})
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// stringConst evaluates the string constant name declared in the package
// at dir: literals joined with +. Reading the source rather than importing
// the package keeps these checks independent of its build.
func stringConst(t *testing.T, dir, name string) string {
	t.Helper()
	for _, f := range parseDir(t, dir) {
		for _, decl := range f.file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if n.Name != name || i >= len(vs.Values) {
						continue
					}
					s, err := evalString(vs.Values[i])
					if err != nil {
						t.Fatalf("%s: const %s: %v", f.where(n.Pos()), name, err)
					}
					return s
				}
			}
		}
	}
	t.Fatalf("no const %s in %s", name, dir)
	return ""
}

func evalString(e ast.Expr) (string, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", fmt.Errorf("%s is not a string", e.Value)
		}
		return strconv.Unquote(e.Value)
	case *ast.ParenExpr:
		return evalString(e.X)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", fmt.Errorf("operator %s", e.Op)
		}
		x, err := evalString(e.X)
		if err != nil {
			return "", err
		}
		y, err := evalString(e.Y)
		return x + y, err
	default:
		return "", fmt.Errorf("%T is not a string literal", e)
	}
}
