package pipeline

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/bad/*.txtar")

// testOpts pins the host so that results do not depend on the machine.
var testOpts = LoadOptions{HostCPUs: 4, HostMemoryMB: 8192}

// TestBadSpecs loads every case of testdata/bad and compares the complete
// error text with the case's "want" section. A case is a txtar archive:
//
//	-- pipeline.json --   the spec, written to the workspace root
//	-- symlinks --        optional lines "path -> target" created before
//	                      loading; $OUTSIDE is a directory outside the workspace
//	-- want --            the exact error text; $WORK and $OUTSIDE stand for
//	                      the two temporary directories
//	-- any/other/file --  written into the workspace as is
//
// Cases whose comment says "(unix)" use unix paths or symlinks and are
// skipped on Windows.
func TestBadSpecs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.txtar")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 30)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			require.NoError(t, err)
			if runtime.GOOS == "windows" && strings.Contains(string(ar.Comment), "(unix)") {
				t.Skip("unix paths or symlinks")
			}
			work, outside := realTempDir(t), realTempDir(t)
			var want *txtar.File
			for i := range ar.Files {
				f := &ar.Files[i]
				switch f.Name {
				case "want":
					want = f
				case "symlinks":
					makeSymlinks(t, work, outside, string(f.Data))
				default:
					writeFile(t, filepath.Join(work, f.Name), f.Data)
				}
			}
			require.NotNil(t, want, "case has no want section")

			before := snapshot(t, work)
			_, err = Load(filepath.Join(work, "pipeline.json"), testOpts)
			require.Error(t, err)
			assert.Equal(t, before, snapshot(t, work), "Load changed the workspace")
			assertSpecError(t, err)

			got := strings.ReplaceAll(err.Error(), outside, "$OUTSIDE")
			got = strings.ReplaceAll(got, work, "$WORK") + "\n"
			if *update {
				want.Data = []byte(got)
				require.NoError(t, os.WriteFile(file, txtar.Format(ar), 0o644))
				return
			}
			assert.Equal(t, string(want.Data), got)
		})
	}
}

// assertSpecError checks that err is a *SpecError or SpecErrors (an
// ErrInvalidSpec, exit 2) whose problems are all SpecErrors naming the spec
// file.
func assertSpecError(t testing.TB, err error) {
	t.Helper()
	require.ErrorIs(t, err, ErrInvalidSpec)
	switch e := err.(type) {
	case *SpecError:
	case SpecErrors:
		assert.GreaterOrEqual(t, len(e), 2, "SpecErrors is used for several problems")
	default:
		t.Fatalf("error is %T, want *SpecError or SpecErrors", err)
	}
	probs := Problems(err)
	require.NotEmpty(t, probs)
	for _, p := range probs {
		assert.NotEmpty(t, p.Msg)
		assert.NotEmpty(t, p.File)
	}
}

// realTempDir is t.TempDir with symlinks resolved, so that error texts can
// be normalised.
func realTempDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	return d
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

func makeSymlinks(t *testing.T, work, outside, spec string) {
	t.Helper()
	for line := range strings.Lines(spec) {
		from, to, ok := strings.Cut(strings.TrimSpace(line), " -> ")
		if !ok {
			continue
		}
		to = strings.ReplaceAll(to, "$OUTSIDE", outside)
		link := filepath.Join(work, from)
		require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o755))
		if err := os.Symlink(to, link); err != nil {
			t.Skipf("cannot create symlinks here: %v", err)
		}
	}
}

// snapshot lists every entry under root with its type, size and mode.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b bytes.Buffer
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b.WriteString(rel + " " + info.Mode().String())
		if info.Mode().IsRegular() {
			b.WriteString(" " + string(rune('0'+info.Size()%10)))
		}
		b.WriteString("\n")
		return nil
	})
	require.NoError(t, err)
	return b.String()
}
