package suite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/guardrun/guardrun/analyzers/suite"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"
)

// repoDir is the root of this repository.
func repoDir(b *testing.B) string {
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkVetPackage measures what guardrun pays on a cache miss for each
// of this repository's processors, direct and transitive.
func BenchmarkVetPackage(b *testing.B) {
	for _, proc := range []string{"copy", "upper"} {
		dir := filepath.Join(repoDir(b), "processors", proc)
		if _, err := os.Stat(dir); err != nil {
			b.Logf("skipping %s: %v", proc, err)
			continue
		}
		for _, transitive := range []bool{false, true} {
			name := proc + "/direct"
			if transitive {
				name = proc + "/transitive"
			}
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					fs, err := suite.VetPackage(context.Background(), dir, transitive)
					if err != nil {
						b.Fatal(err)
					}
					if len(fs) != 0 {
						b.Fatalf("processor %s has findings: %v", proc, fs)
					}
				}
			})
		}
	}
}

// BenchmarkRepo lints the whole repository as run_tests.sh does.
func BenchmarkRepo(b *testing.B) {
	for _, transitive := range []bool{false, true} {
		name := "direct"
		if transitive {
			name = "transitive"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, err := suite.Run(context.Background(), suite.Options{Dir: repoDir(b), Patterns: []string{"./..."},
					Transitive: transitive, Tests: true})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNaiveTransitive is the textbook way (what multichecker does for
// an analyzer with facts): type-check every dependency from source. It is
// here to justify Run's light dependency graph; see docs/NETLINT.md.
func BenchmarkNaiveTransitive(b *testing.B) {
	for i := 0; i < b.N; i++ {
		cfg := &packages.Config{Dir: repoDir(b), Mode: packages.LoadAllSyntax | packages.NeedModule, Tests: true}
		pkgs, err := packages.Load(cfg, "./...")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := checker.Analyze(suite.Analyzers(true), pkgs, nil); err != nil {
			b.Fatal(err)
		}
	}
}
