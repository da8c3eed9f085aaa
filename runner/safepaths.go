package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/guardrun/guardrun/internal/safefs"
)

// guardrun's own file operations on paths a processor could have shaped
// (output dirs, staging dirs, the state dir) go through internal/safefs:
// every directory is opened from the workspace one real directory at a
// time, never through a symlink, and every file beneath it is opened
// without following symlinks, and only when it is a regular single-link
// file. This is checked at use time, not once at load: an earlier stage
// may have replaced a later stage's outputDir by a symlink.

// openBeneath opens the directory abs, which must lie beneath the
// workspace, checking every component beneath the workspace (created when
// create is set).
func (r *Runner) openBeneath(abs string, create bool) (*safefs.Dir, error) {
	ws := r.p.Workspace
	rel, err := filepath.Rel(ws, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil, fmt.Errorf("%s is not beneath the workspace %s", abs, ws)
	}
	d, err := safefs.OpenBeneath(ws, rel, create)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// checkStateDir re-checks that stateDir is a real directory beneath the
// workspace (no symlinked component), creating it when missing.
func (r *Runner) checkStateDir() error {
	d, err := r.openBeneath(r.p.StateDir, true)
	if err != nil {
		return fmt.Errorf("checking the state dir: %w", err)
	}
	return d.Close()
}

// openOutDir opens the stage's outputDir (created when create is set),
// refusing a symlinked component.
func (se *stageExec) openOutDir(create bool) (*safefs.Dir, error) {
	d, err := se.r.openBeneath(se.outDir, create)
	if err != nil {
		return nil, fmt.Errorf("checking the output dir: %w", err)
	}
	return d, nil
}

// openStaging opens the stage's staging dir beneath its outputDir.
func (se *stageExec) openStaging(create bool) (*safefs.Dir, error) {
	out, err := se.openOutDir(create)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	return out.Sub(filepath.Base(se.staging), create)
}

// removeStaging deletes the staging dir, its outputDir checked first
// (os.RemoveAll itself never follows symlinks beneath it).
func (se *stageExec) removeStaging() error {
	out, err := se.openOutDir(false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_ = out.Close()
	return os.RemoveAll(se.staging)
}
