//go:build unix

package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
	"github.com/guardrun/guardrun/pipeline"
)

// listItemsReference is how listItems walked before it read directories
// itself: filepath.WalkDir from the root, then a sort by id.
func listItemsReference(p *pipeline.Pipeline, st *pipeline.Stage) ([]string, error) {
	// The scope (pattern, root, skipped dirs) is listItems' own: what is
	// compared is the walk.
	pattern, root, skip := foreachScope(p, st)
	absRoot := p.Abs(root)
	var ids []string
	err := filepath.WalkDir(absRoot, func(ap string, d fs.DirEntry, err error) error {
		if err != nil {
			if ap == absRoot && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if ap == absRoot {
			if !d.IsDir() {
				return fmt.Errorf("%s is not a directory", root)
			}
			return nil
		}
		rel, _ := relInside(p.Workspace, ap)
		if runstate.IsArtifact(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if skip[rel] || (pattern != nil && !couldMatch(pattern, strings.Split(rel, "/"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || (pattern != nil && !match(pattern, strings.Split(rel, "/"))) {
			return nil
		}
		id := rel
		if root != "." {
			id = strings.TrimPrefix(rel, root+"/")
		}
		ids = append(ids, id)
		return nil
	})
	sort.Strings(ids)
	return ids, err
}

// listItems reads directories with getdents, unsorted, and builds ids
// without filepath.Rel: over a tree with every kind of entry it must list
// exactly what the WalkDir version did, for globs rooted at the workspace,
// deep globs, ** and foreach.dir.
func TestListItemsAsWalkDirDid(t *testing.T) {
	files := map[string]string{}
	for _, n := range []string{"in/a.txt", "in/b.csv", "in/sub/c.txt", "in/sub/deep/d.txt", "in/sub/deep/e.csv",
		"in/.hidden.txt", "in/.s.done", "in/.s.staging/x.txt", "in/out/o.txt", "in/é.txt", "in/A.TXT",
		"top.txt", "other/f.txt", "other/sub/g.txt", "state/h.txt", "in/[x].txt"} {
		files[n] = n
	}
	// More than one 64 KiB getdents buffer in one directory, listed as
	// the foreach root itself: an id that kept a name in the buffer would
	// be overwritten by the next chunk.
	for i := 0; i < 1500; i++ {
		files[fmt.Sprintf("in/many/file-with-a-rather-long-name-to-fill-buffers-%04d.txt", i)] = "m"
	}
	dir := testutil.Workspace(t, files)
	require.NoError(t, os.Symlink(filepath.Join(dir, "in/a.txt"), filepath.Join(dir, "in/link.txt")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "in/sub"), filepath.Join(dir, "in/linkdir")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "in"), filepath.Join(dir, "linkroot")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "in/sub/pipe.txt"), 0o644))

	for _, fe := range []string{
		`{"glob":"in/*.txt"}`, `{"glob":"in/**/*.txt"}`, `{"glob":"*.txt"}`, `{"glob":"**/*.txt"}`,
		`{"glob":"in/*/deep/*"}`, `{"glob":"in/s?b/*.txt"}`, `{"glob":"in/many/*-00[1-3]?.txt"}`,
		`{"dir":"in"}`, `{"dir":"in/sub"}`, `{"glob":"missing/*.txt"}`, `{"dir":"linkroot"}`, `{"dir":"in/a.txt"}`,
		`{"glob":"in/\\[x\\].txt"}`, `{"dir":"in/many"}`, `{"glob":"in/many/*"}`,
	} {
		t.Run(fe, func(t *testing.T) {
			spec := `{"version":1,"name":"t","stateDir":"state","stages":[
			  {"name":"s","foreach":` + fe + `,"processor":{"exec":["/bin/true"]},"outputDir":"in/out","outputs":["{item}"]}]}`
			testutil.WriteFile(t, filepath.Join(dir, "pipeline.json"), spec)
			p, err := pipeline.Load(filepath.Join(dir, "pipeline.json"), pipeline.LoadOptions{})
			if err != nil {
				t.Skipf("spec refused: %v", err)
			}
			want, wantErr := listItemsReference(p, &p.Stages[0])
			items, err := listItems(p, &p.Stages[0])
			if wantErr != nil {
				require.Error(t, err)
				assert.Contains(t, err.Error(), wantErr.Error())
				return
			}
			require.NoError(t, err)
			_, err = listItems(p, &p.Stages[0]) // reuses the directory buffers
			require.NoError(t, err)
			var got []string
			for _, it := range items {
				got = append(got, it.id)
			}
			assert.Equal(t, want, got)
		})
	}
}
