package arch

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ems120/ems120/internal/testenv"
)

const module = "github.com/ems120/ems120/"

// adapters talk to the world: Kafka, PostgreSQL, HTTP, files of the system's servers.
var adapters = []string{module + "streams", module + "sql", module + "service", module + "stack", module + "loadtest",
	module + "demo", module + "report", module + "web", "github.com/segmentio/kafka-go", "github.com/twmb/franz-go", "github.com/jackc/pgx",
	"net/http", "os/exec"}

// engines decide and simulate; they do no I/O, so they import no adapter.
var engines = []string{"dispatch", "dispatch/fleetindex", "hospitals", "coverage", "simulator", "surveillance", "city", "contract", "results", "access"}

// packages maps each of the module's packages (relative path) to its imports, test files left
// out.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	root := testenv.Root()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		rel, _ := filepath.Rel(root, path)
		out[filepath.ToSlash(rel)] = p.Imports
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 15 {
		t.Fatalf("found only %d packages under %s", len(out), root)
	}
	return out
}

func importsAny(imports, prefixes []string) []string {
	var hits []string
	for _, imp := range imports {
		for _, p := range prefixes {
			if imp == p || strings.HasPrefix(imp, p+"/") {
				hits = append(hits, imp)
			}
		}
	}
	return hits
}

// The rules of the package map: engines import no adapter; the adapters streams and sql wire
// nothing (no engine, no service), nor does the console's web package; report draws from the result types, not from the load test.
func TestImportRules(t *testing.T) {
	pkgs := packages(t)
	wiring := []string{module + "service", module + "stack", module + "dispatch", module + "hospitals", module + "coverage",
		module + "simulator", module + "loadtest", module + "demo"}
	rules := map[string][]string{"streams": wiring, "sql": wiring, "sql/pgtemp": wiring, "web": wiring,
		"report": {module + "loadtest", module + "simulator"}}
	for _, e := range engines {
		rules[e] = adapters
	}
	for pkg, forbidden := range rules {
		imports, ok := pkgs[pkg]
		if !ok {
			t.Errorf("package %s is in the rules but not in the module", pkg)
			continue
		}
		if hits := importsAny(imports, forbidden); len(hits) > 0 {
			t.Errorf("%s imports %v", pkg, hits)
		}
	}
}

// One place starts the system: only package stack starts a throwaway PostgreSQL (test
// support aside), starts the embedded broker, or makes a service; cmd/ems120 calls packages.
func TestOneWiring(t *testing.T) {
	pkgs := packages(t)
	for pkg, imports := range pkgs {
		if slices.Contains(imports, module+"sql/pgtemp") && pkg != "stack" && pkg != "internal/testenv" {
			t.Errorf("%s imports sql/pgtemp; only stack starts the throwaway PostgreSQL", pkg)
		}
	}
	calls := map[string]string{"streams.StartBroker(": "stack", "service.New(": "stack"}
	forEachFile(t, func(path string, src []byte, _ *ast.File, _ *token.FileSet) {
		for call, owner := range calls {
			if strings.Contains(string(src), call) && filepath.Base(filepath.Dir(path)) != owner {
				t.Errorf("%s calls %s; only package %s does", path, call, owner)
			}
		}
	})
}

// No function outside tests is longer than 80 lines, so each can be read on one screen.
func TestFunctionsAreShort(t *testing.T) {
	const limit = 80
	forEachFile(t, func(path string, _ []byte, f *ast.File, fset *token.FileSet) {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > limit {
				t.Errorf("%s: %s is %d lines (at most %d)", path, fd.Name.Name, n, limit)
			}
		}
	})
}

// forEachFile parses every Go file of the module outside tests.
func forEachFile(t *testing.T, fn func(path string, src []byte, f *ast.File, fset *token.FileSet)) {
	t.Helper()
	root := testenv.Root()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		fn(rel, src, f, fset)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("found only %d Go files under %s", n, root)
	}
}
