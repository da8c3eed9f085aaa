package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/safefs"
	"github.com/guardrun/guardrun/pipeline"
)

// KeyFormat versions the canonical key encoding below. 2 added Code (and
// made an exec processor's version the hash of its argv alone): a marker of
// format 1 reruns its stage once, with the reason key-format-changed.
const KeyFormat = 2

// KeyParts is everything an idempotency key covers. The key is the SHA-256
// of its JSON encoding (fixed field order, sorted map keys, compact):
// canonical by construction.
type KeyParts struct {
	Format    int    `json:"format"`
	Processor string `json:"processor"` // processor version (Go source hash, or exec argv hash)
	// Code identifies every file of code the processor runs or reads
	// beyond its inputs, sorted by path: an exec program, its "#!"
	// interpreters and the workspace files its arguments name, then the
	// files of the stage's codeDeps (code.go).
	Code    []InputID         `json:"code"`
	Version string            `json:"version"` // the stage's "version" salt
	Params  string            `json:"params"`  // canonical JSON
	Env     map[string]string `json:"env"`
	Outputs []string          `json:"outputs"`
	Inputs  []InputID         `json:"inputs"`
}

// InputID identifies one input file by content.
type InputID struct {
	Path   string `json:"path"` // workspace-relative (slash) or absolute
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// id is the file's identity when SHA256 can be trusted for it (not
	// modified within the stat cache's racy window before hashing began,
	// or a verified output guardrun wrote): an item's journal keeps it
	// so that the next run needs only a stat. Not part of the key.
	id *hashcache.FileID
}

// Key returns the hex SHA-256 of the canonical encoding.
func (k *KeyParts) Key() string {
	h := sha256.New()
	k.encode(h)
	return hex.EncodeToString(h.Sum(nil))
}

// encode writes the canonical encoding, json.Marshal's bytes exactly.
// Inputs (the last field) are streamed one by one: a fan-in over 100,000
// files does not build its whole encoding in memory.
func (k *KeyParts) encode(w io.Writer) {
	if len(k.Inputs) == 0 {
		b, _ := json.Marshal(k)
		w.Write(b)
		return
	}
	head := *k
	head.Inputs = nil
	b, _ := json.Marshal(&head)
	w.Write(b[:len(b)-len("null}")])
	buf := make([]byte, 0, 256)
	buf = append(buf, '[')
	for i := range k.Inputs {
		if i > 0 {
			buf = append(buf, ',')
		}
		in := &k.Inputs[i]
		buf = append(buf, `{"path":`...)
		buf = appendJSONString(buf, in.Path)
		buf = append(buf, `,"size":`...)
		buf = strconv.AppendInt(buf, in.Size, 10)
		buf = append(buf, `,"sha256":`...)
		buf = appendJSONString(buf, in.SHA256)
		buf = append(buf, '}')
		if len(buf) > 32<<10 {
			w.Write(buf)
			buf = buf[:0]
		}
	}
	buf = append(buf, "]}"...)
	w.Write(buf)
}

// appendJSONString appends s as json.Marshal encodes it: printable ASCII
// other than " \ < > & as is, anything else through json.Marshal.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// canonicalJSON re-encodes a JSON value with sorted object keys and no
// insignificant whitespace; numbers keep their literal text.
func canonicalJSON(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "{}" { // the common case, without a decode
		return "{}", nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// inputFile is one concrete file an input expands to.
type inputFile struct {
	Rel string // key path: workspace-relative slash path or absolute
	Abs string
	// fi is the file's stat when expandInputs made one (a file named as
	// an input), used by the hashing that follows instead of another.
	fi os.FileInfo
	// id and sum are the identity and hash this run already verified the
	// file has (an up-to-date item's output, verified.go): hashing takes
	// them without a stat or the stat cache.
	id  *hashcache.FileID
	sum string
}

// expandInputs lists the files of a stage's inputs in order: a file as is, a
// directory as every regular file under it in lexical order, guardrun's own
// artifacts (markers, staging dirs, temp files) excluded.
func expandInputs(p *pipeline.Pipeline, st *pipeline.Stage, known *verifiedFiles) ([]inputFile, error) {
	return expandPaths(p, st.Inputs, known, nil)
}

// expandPaths is expandInputs for the inputs ins. Files known (may be nil)
// to be verified in this run are not stat'ed again; others are stat'ed
// through stat (may be nil).
func expandPaths(p *pipeline.Pipeline, ins []string, known *verifiedFiles, stat *hashcache.Statter) ([]inputFile, error) {
	var files []inputFile
	for _, in := range ins {
		abs := p.Abs(in)
		if v, ok := known.get(abs); ok {
			files = append(files, inputFile{Rel: in, Abs: abs, id: &v.id, sum: v.sum})
			continue
		}
		_, fi, err := stat.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in, unwrapPathErr(err))
		}
		if !fi.IsDir() {
			if !fi.Mode().IsRegular() {
				return nil, irregularInput(in, fi.Mode())
			}
			files = append(files, inputFile{Rel: in, Abs: abs, fi: fi})
			continue
		}
		// A symlink to a directory is not followed, as beneath one.
		if li, err := os.Lstat(abs); err != nil || !li.IsDir() {
			if err != nil {
				return nil, fmt.Errorf("input %s: %w", in, unwrapPathErr(err))
			}
			continue
		}
		sub, err := walkInputDir(abs, strings.TrimSuffix(in, "/"), known, nil)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in, unwrapPathErr(err))
		}
		if !sort.SliceIsSorted(sub, func(i, j int) bool { return sub[i].Rel < sub[j].Rel }) {
			sort.Slice(sub, func(i, j int) bool { return sub[i].Rel < sub[j].Rel })
		}
		files = append(files, sub...)
	}
	return files, nil
}

// walkInputDir appends the regular files beneath dir (an input directory,
// or one of its subdirectories), rel being dir's key path. What
// filepath.WalkDir did, without its sorting, Rel and Join per entry (at
// 10,000 files a third of a fan-in's no-op): guardrun's artifacts are
// skipped, symlinks are not followed (and not inputs), FIFOs, devices and
// sockets are refused.
func walkInputDir(dir, rel string, known *verifiedFiles, out []inputFile) ([]inputFile, error) {
	err := eachDirent(dir, func(name string, t fs.FileMode) error {
		if runstate.IsArtifact(name) {
			return nil
		}
		switch {
		case t.IsDir():
			var err error
			out, err = walkInputDir(dir+string(filepath.Separator)+name, rel+"/"+name, known, out)
			return err
		case t.IsRegular():
			path := dir + string(filepath.Separator) + name
			f := inputFile{Rel: rel + "/" + name, Abs: path}
			if v, ok := known.get(path); ok {
				f.id, f.sum = &v.id, v.sum
			}
			out = append(out, f)
		case t&(fs.ModeNamedPipe|fs.ModeDevice|fs.ModeCharDevice|fs.ModeSocket|fs.ModeIrregular) != 0:
			return irregularInput(rel+"/"+name, t)
		}
		return nil
	})
	return out, err
}

// irregularInput refuses an input that is not a regular file: reading a
// FIFO would block guardrun, a device would never end.
func irregularInput(in string, m fs.FileMode) error {
	return fmt.Errorf("input %s: is %s: only regular files (and directories of them) can be inputs", in, safefs.Kind(m))
}

func joinRel(dir, r string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + r
	}
	return dir + "/" + r
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// hashInputs hashes files in parallel through the stat cache, while ctx
// lives.
func hashInputs(ctx context.Context, cache *hashcache.Cache, files []inputFile) ([]InputID, int64, error) {
	return hashFilesContext(ctx, cache, files, "input")
}

// hashFiles hashes files in parallel through the stat cache; an error names
// the file as "<what> <path>".
func hashFiles(cache *hashcache.Cache, files []inputFile, what string) ([]InputID, int64, error) {
	return hashFilesContext(context.Background(), cache, files, what)
}

// hashFilesContext is hashFiles, stopping with ctx's error once ctx ends.
func hashFilesContext(ctx context.Context, cache *hashcache.Cache, files []inputFile, what string) ([]InputID, int64, error) {
	ids := make([]InputID, len(files))
	errs := make([]error, len(files))
	var total int64
	if len(files) == 1 { // common case: no goroutine
		t0 := time.Now()
		sum, id, err := sumFile(ctx, cache, &files[0])
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, fmt.Errorf("%s %s: hashing stopped: %w", what, files[0].Rel, ctx.Err())
			}
			return nil, 0, fmt.Errorf("%s %s: %w", what, files[0].Rel, unwrapPathErr(err))
		}
		return []InputID{{Path: files[0].Rel, Size: id.Size, SHA256: sum, id: trustedID(cache, &files[0], id, t0)}}, id.Size, nil
	}
	workers := runtime.NumCPU()
	if workers > len(files) {
		workers = len(files)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					continue
				}
				t0 := time.Now()
				sum, id, err := sumFile(ctx, cache, &files[i])
				ids[i] = InputID{Path: files[i].Rel, Size: id.Size, SHA256: sum, id: trustedID(cache, &files[i], id, t0)}
				errs[i] = err
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil && ctx.Err() != nil {
			return nil, 0, fmt.Errorf("%s %s: hashing stopped: %w", what, files[i].Rel, ctx.Err())
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s %s: %w", what, files[i].Rel, unwrapPathErr(err))
		}
		total += ids[i].Size
	}
	return ids, total, nil
}

// trustedID is id when a hash of f begun at t0 holds for that identity: f
// was last modified more than the racy window before, or is an output this
// run verified (written by guardrun, checked against its journal), or one
// the stat cache trusts for it (an output guardrun hashed as it promoted
// it: an upstream item's, committed in this run).
func trustedID(cache *hashcache.Cache, f *inputFile, id hashcache.FileID, t0 time.Time) *hashcache.FileID {
	if f.id != nil && f.sum != "" || t0.UnixNano()-id.MtimeNs >= int64(hashcache.RacyWindow) {
		return &id
	}
	if _, ok := cache.Lookup(f.Abs, id); ok {
		return &id
	}
	return nil
}

// onSumFile, when set (by tests), is called with every input sumFile has
// to look up in the stat cache or hash.
var onSumFile func(rel string)

// sumFile hashes f through the stat cache, with the stat expandInputs
// made when there is one.
func sumFile(ctx context.Context, cache *hashcache.Cache, f *inputFile) (string, hashcache.FileID, error) {
	if f.id != nil && f.sum != "" {
		return f.sum, *f.id, nil
	}
	if onSumFile != nil {
		onSumFile(f.Rel)
	}
	if f.fi != nil {
		return cache.SumStatContext(ctx, f.Abs, f.fi)
	}
	return cache.SumContext(ctx, f.Abs)
}

// baseParts fills the key parts that do not depend on inputs.
func baseParts(st *pipeline.Stage, procVersion string, code []InputID) (KeyParts, error) {
	params, err := canonicalJSON(st.Params)
	if err != nil {
		return KeyParts{}, fmt.Errorf("params: %w", err)
	}
	env := st.Env
	if env == nil {
		env = map[string]string{}
	}
	outs := st.Outputs
	if outs == nil {
		outs = []string{}
	}
	if code == nil {
		code = []InputID{}
	}
	return KeyParts{Format: KeyFormat, Processor: procVersion, Code: code, Version: st.Version, Params: params, Env: env, Outputs: outs}, nil
}
