//go:build unix

package runner

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
	"github.com/guardrun/guardrun/pipeline"
)

// walkDirReference is how a directory input was expanded before
// walkInputDir: filepath.WalkDir, then a sort by key path.
func walkDirReference(abs, in string) ([]string, error) {
	var rels []string
	err := filepath.WalkDir(abs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != abs && runstate.IsArtifact(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		r, _ := filepath.Rel(abs, path)
		if t := d.Type(); !t.IsRegular() {
			if t&(fs.ModeNamedPipe|fs.ModeDevice|fs.ModeCharDevice|fs.ModeSocket|fs.ModeIrregular) != 0 {
				return irregularInput(joinRel(in, filepath.ToSlash(r)), t)
			}
			return nil
		}
		rels = append(rels, joinRel(in, filepath.ToSlash(r)))
		return nil
	})
	sort.Strings(rels)
	return rels, err
}

func TestDirectoryInputsExpandAsWalkDirDid(t *testing.T) {
	files := map[string]string{"pipeline.json": `{"version":1,"name":"t","stages":[]}`}
	for _, n := range []string{"d/a.txt", "d/a/b", "d/a-b", "d/a/c/d.txt", "d/.hidden", "d/z", "d/.s.done",
		"d/.s.staging/x", "d/sub/.s.done", "d/sub/y", "d/" + "é.txt", "d/A"} {
		files[n] = n
	}
	dir := testutil.Workspace(t, files)
	require.NoError(t, os.Symlink(filepath.Join(dir, "d/z"), filepath.Join(dir, "d/link-to-file")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "d/a"), filepath.Join(dir, "d/link-to-dir")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "d"), filepath.Join(dir, "linked-root")))
	p := &pipeline.Pipeline{Workspace: dir}
	var stat hashcache.Statter
	defer stat.Close()

	for _, in := range []string{"d", "d/", "linked-root"} {
		t.Run(in, func(t *testing.T) {
			want, err := walkDirReference(filepath.Join(dir, in), in)
			require.NoError(t, err)
			got, err := expandPaths(p, []string{in}, nil, &stat)
			require.NoError(t, err)
			var rels []string
			for _, f := range got {
				rels = append(rels, f.Rel)
				assert.Equal(t, filepath.Join(dir, filepath.FromSlash(f.Rel)), filepath.Clean(f.Abs))
			}
			assert.Equal(t, want, rels)
		})
	}

	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "d/a/c/pipe"), 0o644))
	_, want := walkDirReference(filepath.Join(dir, "d"), "d")
	require.Error(t, want)
	_, err := expandPaths(p, []string{"d"}, nil, &stat)
	require.Error(t, err)
	assert.Equal(t, "input d: "+want.Error(), err.Error(), "a FIFO beneath is refused, named")
}
