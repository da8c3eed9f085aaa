package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/guardrun/guardrun/internal/runstate"
)

// reservedEnvPrefix marks the variables guardrun sets for processors.
const reservedEnvPrefix = "PIPELINE_"

// resolver state for one spec.
type validator struct {
	probs *problems
	ws    *workspace
	f     *File
	opts  LoadOptions

	// resolved (symlink-free) workspace-relative forms, for conflict checks
	stateRes, locksRes string
	outDirRes          []string   // per stage; "" when invalid
	outFileRes         [][]string // per stage, per output; "" when invalid
}

// resolveFile validates f and builds the resolved Pipeline. Problems go to
// probs; the returned Pipeline is only meaningful when there are none.
func resolveFile(f *File, specPath string, opts LoadOptions, probs *problems) *Pipeline {
	v := &validator{probs: probs, f: f, opts: opts}
	p := &Pipeline{Name: f.Name}

	switch {
	case f.Version == nil:
		probs.add("version", "required (want %d)", FormatVersion)
	case *f.Version != FormatVersion:
		probs.add("version", "unsupported spec version %d (want %d)", *f.Version, FormatVersion)
	default:
		p.Version = *f.Version
	}
	switch {
	case f.Name == "":
		probs.add("name", "required")
	case !pipelineNameRE.MatchString(f.Name):
		probs.add("name", "%q must match %s", f.Name, pipelineNameRE)
	}

	ws, err := newWorkspace(specPath)
	if err != nil {
		probs.add("", "%v", err)
		return p
	}
	v.ws = ws
	p.Workspace = ws.dir
	p.SpecPath = filepath.Join(ws.lexical, filepath.Base(specPath))
	if abs, err := filepath.Abs(specPath); err == nil {
		p.SpecPath = abs
	}

	var stateRel, locksRel string
	stateRel, v.stateRes = v.controlDir("stateDir", f.StateDir, DefaultStateDir)
	locksRel, v.locksRes = v.controlDir("locksDir", f.LocksDir, DefaultLocksDir)
	p.StateDir = filepath.Join(ws.dir, filepath.FromSlash(stateRel))
	p.LocksDir = filepath.Join(ws.dir, filepath.FromSlash(locksRel))

	p.Budget = v.budget(f.Resources)
	p.Retention = v.retention(f.Retention)
	v.checkDefaults(f.Defaults)

	if len(f.Stages) == 0 {
		probs.add("stages", "at least one stage is required")
		return p
	}
	v.outDirRes = make([]string, len(f.Stages))
	v.outFileRes = make([][]string, len(f.Stages))
	p.Stages = make([]Stage, len(f.Stages))
	firstByName := map[string]int{}
	for i := range f.Stages {
		p.Stages[i] = v.stage(i, &f.Stages[i], firstByName)
	}
	v.checkDependsOn(p.Stages, firstByName)
	v.checkForeachStages(p.Stages, firstByName)
	v.checkFanOutDirs(p.Stages)
	v.checkWriteConflicts(p.Stages)
	buildGraph(p, firstByName, probs)
	return p
}

// controlDir checks stateDir or locksDir and returns its workspace-relative
// form as written and as resolved.
func (v *validator) controlDir(field, val, def string) (rel, res string) {
	if val == "" {
		val = def
	}
	if !v.noNUL(field, val) {
		return def, ""
	}
	rel, res, err := v.ws.writePath(val)
	if err != nil {
		v.probs.add(field, "%v", err)
		return def, ""
	}
	if rel == "." || res == "." {
		v.probs.add(field, "must not be the workspace root")
		return def, ""
	}
	return rel, res
}

func (v *validator) noNUL(field, s string) bool {
	if strings.IndexByte(s, 0) >= 0 {
		v.probs.add(field, "contains a NUL byte")
		return false
	}
	return true
}

// budget resolves the whole-run budget against the host.
func (v *validator) budget(b *BudgetSpec) Budget {
	var spec BudgetSpec
	if b != nil {
		spec = *b
	}
	v.positiveFloat("resources.cpus", spec.CPUs)
	v.atLeast("resources.memoryMB", spec.MemoryMB, 1)
	v.atLeastInt("resources.ioConcurrency", spec.IOConcurrency, 1)
	out := Budget{
		CPUs:     layer(v.opts.HostCPUs, spec.CPUs),
		MemoryMB: layer(max(1, v.opts.HostMemoryMB/2), spec.MemoryMB),
	}
	out.IOConcurrency = layer(max(1, int(out.CPUs)*DefaultIOConcurrencyFactor), spec.IOConcurrency)
	return out
}

func (v *validator) checkDefaults(d *DefaultSpec) {
	if d == nil {
		return
	}
	v.checkRetry("defaults.retry", d.Retry)
	v.checkResources("defaults.resources", d.Resources)
	v.checkCheckpoint("defaults.checkpoint", d.Checkpoint)
	v.atLeastInt("defaults.timeoutSeconds", d.TimeoutSeconds, 1)
	if r := d.Retry; r != nil && (r.BaseDelayMs != nil || r.MaxDelayMs != nil) {
		base := layer(DefaultBaseDelayMs, r.BaseDelayMs)
		maxd := layer(DefaultMaxDelayMs, r.MaxDelayMs)
		if base >= 0 && maxd >= 0 && maxd < base {
			v.probs.add("defaults.retry.maxDelayMs", "must be >= baseDelayMs (%d), got %d", base, maxd)
		}
	}
}

func (v *validator) checkRetry(path string, r *RetrySpec) {
	if r == nil {
		return
	}
	v.atLeastInt(path+".maxAttempts", r.MaxAttempts, 1)
	v.atLeast(path+".baseDelayMs", r.BaseDelayMs, 0)
	v.atLeast(path+".maxDelayMs", r.MaxDelayMs, 0)
	if r.Multiplier != nil && *r.Multiplier < 1 {
		v.probs.add(path+".multiplier", "must be >= 1, got %s", fmtFloat(*r.Multiplier))
	}
	if r.Jitter != nil && (*r.Jitter < 0 || *r.Jitter > 1) {
		v.probs.add(path+".jitter", "must be between 0 and 1, got %s", fmtFloat(*r.Jitter))
	}
	seen := map[int]int{}
	for i, c := range r.RetryableExitCodes {
		field := fmt.Sprintf("%s.retryableExitCodes[%d]", path, i)
		if c < 1 || c > 255 {
			v.probs.add(field, "must be between 1 and 255, got %d", c)
			continue
		}
		if j, dup := seen[c]; dup {
			v.probs.add(field, "duplicate exit code %d (also retryableExitCodes[%d])", c, j)
			continue
		}
		seen[c] = i
	}
}

func (v *validator) checkResources(path string, r *ResourceSpec) {
	if r == nil {
		return
	}
	v.positiveFloat(path+".cpus", r.CPUs)
	v.atLeast(path+".memoryMB", r.MemoryMB, 1)
	v.atLeast(path+".pids", r.Pids, 1)
	if r.IO != nil {
		v.atLeast(path+".io.readBps", r.IO.ReadBps, 0)
		v.atLeast(path+".io.writeBps", r.IO.WriteBps, 0)
	}
}

func (v *validator) checkCheckpoint(path string, c *CheckpointSpec) {
	if c == nil {
		return
	}
	v.atLeast(path+".everyLines", c.EveryLines, 1)
	v.positiveFloat(path+".everySeconds", c.EverySeconds)
}

// retention checks "retention" and applies its default.
func (v *validator) retention(r *RetentionSpec) Retention {
	out := Retention{Runs: DefaultRetainRuns}
	if r == nil || r.Runs == nil {
		return out
	}
	if n := *r.Runs; n < 1 || n > MaxRetainRuns {
		v.probs.add("retention.runs", "must be between 1 and %d, got %d", MaxRetainRuns, n)
		return out
	}
	out.Runs = *r.Runs
	return out
}

func (v *validator) atLeast(field string, n *int64, lo int64) {
	if n != nil && *n < lo {
		v.probs.add(field, "must be >= %d, got %d", lo, *n)
	}
}

func (v *validator) atLeastInt(field string, n *int, lo int) {
	if n != nil && *n < lo {
		v.probs.add(field, "must be >= %d, got %d", lo, *n)
	}
}

func (v *validator) positiveFloat(field string, x *float64) {
	if x != nil && !(*x > 0) {
		v.probs.add(field, "must be > 0, got %s", fmtFloat(*x))
	}
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// layer returns the first set value, else the built-in.
func layer[T any](builtin T, vals ...*T) T {
	for _, p := range vals {
		if p != nil {
			return *p
		}
	}
	return builtin
}

// stage validates and resolves stages[i].
func (v *validator) stage(i int, s *StageSpec, firstByName map[string]int) Stage {
	at := fmt.Sprintf("stages[%d]", i)
	out := Stage{Index: i, Name: s.Name, Version: s.Version, Declared: s.DependsOn}

	switch {
	case s.Name == "":
		v.probs.add(at+".name", "required")
	case !stageNameRE.MatchString(s.Name):
		v.probs.add(at+".name", "%q must match %s", s.Name, stageNameRE)
	}
	if s.Name != "" {
		if j, dup := firstByName[s.Name]; dup {
			v.probs.add(at+".name", "duplicate stage name %q (also stages[%d])", s.Name, j)
		} else {
			firstByName[s.Name] = i
		}
	}

	out.Processor = v.processor(at+".processor", s.Processor)
	out.Foreach = v.foreach(at+".foreach", s.Foreach)
	fanOut := out.Foreach != nil
	switch b := s.Batch; {
	case b == nil:
	case !fanOut:
		v.probs.add(at+".batch", "only fan-out stages (foreach) take batches")
	case b.MaxItems == nil:
		v.probs.add(at+".batch.maxItems", "required (>= 1)")
	case *b.MaxItems < 1:
		v.probs.add(at+".batch.maxItems", "must be >= 1, got %d", *b.MaxItems)
	case *b.MaxItems > MaxBatchItems:
		v.probs.add(at+".batch.maxItems", "must be <= %d, got %d", MaxBatchItems, *b.MaxItems)
	default:
		out.BatchMaxItems = *b.MaxItems
	}

	out.Params = json.RawMessage("{}")
	if len(s.Params) > 0 && string(s.Params) != "null" {
		var buf bytes.Buffer
		if err := json.Compact(&buf, s.Params); err != nil {
			v.probs.add(at+".params", "%v", err) // not reachable after the shape check
		} else {
			out.Params = buf.Bytes()
		}
	}

	out.Inputs = make([]string, 0, len(s.Inputs))
	seenIn := map[string]int{}
	for j, in := range s.Inputs {
		field := fmt.Sprintf("%s.inputs[%d]", at, j)
		if in == "" {
			v.probs.add(field, "must not be empty")
			continue
		}
		if !v.noNUL(field, in) {
			continue
		}
		if _, ok := v.template(field, in, fanOut); !ok {
			continue
		}
		c := v.ws.readPath(in)
		if k, dup := seenIn[c]; dup {
			v.probs.add(field, "duplicate input %q (also inputs[%d])", in, k)
			continue
		}
		seenIn[c] = j
		out.Inputs = append(out.Inputs, c)
	}
	if fanOut && len(s.Inputs) == 0 && out.Foreach.Stage == "" {
		// Each item's own file; a chained stage's default (every output of
		// the upstream item) is left to the runner: Inputs stay empty.
		out.Inputs = append(out.Inputs, "{path}")
	}

	out.CodeDeps = v.codeDeps(at, s.CodeDeps)

	out.OutputDir, v.outDirRes[i] = v.outputDir(at+".outputDir", s.OutputDir)
	out.Outputs, v.outFileRes[i] = v.outputs(at, s.OutputDir, out.OutputDir, s.Outputs, fanOut)
	for j, in := range out.Inputs {
		if out.OutputDir == "" || fanOut { // a fan-out stage's outputs are templates
			break
		}
		for _, o := range out.Outputs {
			if in == path.Join(out.OutputDir, o) {
				v.probs.add(fmt.Sprintf("%s.inputs[%d]", at, j), "%q is also an output of this stage", in)
			}
		}
	}

	// Defaults layering: the stage, then "defaults", then the built-ins.
	var d DefaultSpec
	if v.f.Defaults != nil {
		d = *v.f.Defaults
	}
	out.Idempotent = true
	if s.Idempotency != nil && s.Idempotency.Enabled != nil {
		out.Idempotent = *s.Idempotency.Enabled
	}
	v.checkCheckpoint(at+".checkpoint", s.Checkpoint)
	sc, dc := deref(s.Checkpoint), deref(d.Checkpoint)
	out.Checkpoint = Checkpoint{
		Enabled:      layer(true, sc.Enabled, dc.Enabled),
		EveryLines:   layer(int64(DefaultCheckpointLines), sc.EveryLines, dc.EveryLines),
		EverySeconds: layer(DefaultCheckpointSeconds, sc.EverySeconds, dc.EverySeconds),
	}

	v.checkRetry(at+".retry", s.Retry)
	sr, dr := deref(s.Retry), deref(d.Retry)
	out.Retry = Retry{
		MaxAttempts:    layer(DefaultMaxAttempts, sr.MaxAttempts, dr.MaxAttempts),
		BaseDelayMs:    layer(int64(DefaultBaseDelayMs), sr.BaseDelayMs, dr.BaseDelayMs),
		MaxDelayMs:     layer(int64(DefaultMaxDelayMs), sr.MaxDelayMs, dr.MaxDelayMs),
		Multiplier:     layer(DefaultMultiplier, sr.Multiplier, dr.Multiplier),
		Jitter:         layer(DefaultJitter, sr.Jitter, dr.Jitter),
		RetryOnTimeout: layer(false, sr.RetryOnTimeout, dr.RetryOnTimeout),
		RetryOnOOM:     layer(false, sr.RetryOnOOM, dr.RetryOnOOM),
	}
	switch {
	case sr.RetryableExitCodes != nil:
		out.Retry.RetryableExitCodes = slices.Clone(sr.RetryableExitCodes)
	case dr.RetryableExitCodes != nil:
		out.Retry.RetryableExitCodes = slices.Clone(dr.RetryableExitCodes)
	default:
		out.Retry.RetryableExitCodes = []int{DefaultRetryableExitCode}
	}
	if (sr.BaseDelayMs != nil || sr.MaxDelayMs != nil) && out.Retry.BaseDelayMs >= 0 &&
		out.Retry.MaxDelayMs >= 0 && out.Retry.MaxDelayMs < out.Retry.BaseDelayMs {
		v.probs.add(at+".retry.maxDelayMs", "must be >= baseDelayMs (%d), got %d", out.Retry.BaseDelayMs, out.Retry.MaxDelayMs)
	}

	v.checkResources(at+".resources", s.Resources)
	rs, rd := deref(s.Resources), deref(d.Resources)
	ios, iod := deref(rs.IO), deref(rd.IO)
	out.Resources = Resources{
		CPUs:     layer(DefaultCPUs, rs.CPUs, rd.CPUs),
		MemoryMB: layer(int64(DefaultMemoryMB), rs.MemoryMB, rd.MemoryMB),
		Pids:     layer(int64(DefaultPids), rs.Pids, rd.Pids),
		IO: IO{
			ReadBps:  layer(int64(0), ios.ReadBps, iod.ReadBps),
			WriteBps: layer(int64(0), ios.WriteBps, iod.WriteBps),
		},
	}
	v.atLeastInt(at+".timeoutSeconds", s.TimeoutSeconds, 1)
	out.TimeoutSeconds = layer(DefaultTimeoutSeconds, s.TimeoutSeconds, d.TimeoutSeconds)

	out.Env = make(map[string]string, len(s.Env))
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		val := s.Env[k]
		switch {
		case !envKeyRE.MatchString(k):
			v.probs.add(at+".env", "key %q is not a valid variable name (want %s)", k, envKeyRE)
		case strings.HasPrefix(strings.ToUpper(k), reservedEnvPrefix):
			v.probs.add(at+".env", "key %q uses the reserved prefix %s", k, reservedEnvPrefix)
		case strings.IndexByte(val, 0) >= 0:
			v.probs.add(at+".env."+k, "contains a NUL byte")
		default:
			out.Env[k] = val
		}
	}
	out.IOHeavy = layer(true, s.IOHeavy)
	return out
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func (v *validator) processor(at string, ps ProcessorSpec) Processor {
	hasGo, hasExec := ps.Go != "", ps.Exec != nil
	switch {
	case hasGo && hasExec:
		v.probs.add(at, `set exactly one of "go" or "exec", not both`)
	case hasGo:
		if v.noNUL(at+".go", ps.Go) {
			return Processor{Kind: "go", Go: v.ws.readPath(ps.Go)}
		}
	case hasExec:
		if len(ps.Exec) == 0 {
			v.probs.add(at+".exec", "must not be empty")
			break
		}
		ok := true
		if ps.Exec[0] == "" {
			v.probs.add(at+".exec[0]", "must not be empty")
			ok = false
		}
		for j, a := range ps.Exec {
			ok = v.noNUL(fmt.Sprintf("%s.exec[%d]", at, j), a) && ok
		}
		if ok {
			return Processor{Kind: "exec", Exec: slices.Clone(ps.Exec)}
		}
	default:
		v.probs.add(at, `required: set one of "go" (a Go main package) or "exec" (an argv)`)
	}
	return Processor{}
}

// codeDeps checks a stage's codeDeps: files, directories or globs inside
// the workspace, also after resolving the symlinks of the part before the
// first glob segment; not inside stateDir or locksDir; valid patterns;
// unique after cleaning. It returns them cleaned, workspace-relative with
// forward slashes. Whether they exist is for the run to say (an upstream
// stage may create them).
func (v *validator) codeDeps(at string, deps []string) []string {
	out := make([]string, 0, len(deps))
	seen := map[string]int{}
	for j, d := range deps {
		field := fmt.Sprintf("%s.codeDeps[%d]", at, j)
		rel, _, ok := v.workspaceGlob(field, d)
		if !ok {
			continue
		}
		if k, dup := seen[rel]; dup {
			v.probs.add(field, "duplicate entry %q (also codeDeps[%d])", d, k)
			continue
		}
		seen[rel] = j
		out = append(out, rel)
	}
	return out
}

// workspaceGlob checks a path that may hold glob segments (codeDeps,
// foreach.glob): non-empty, no NUL byte, inside the workspace as written
// and after resolving the symlinks of its literal prefix (the segments
// before the first glob segment), valid patterns, not inside stateDir or
// locksDir. It returns the path cleaned, workspace-relative with forward
// slashes, and its literal prefix ("." when the first segment is a glob).
func (v *validator) workspaceGlob(field, d string) (rel, prefix string, ok bool) {
	if d == "" {
		v.probs.add(field, "must not be empty")
		return "", "", false
	}
	if !v.noNUL(field, d) {
		return "", "", false
	}
	_, rel, inside := v.ws.locate(filepath.FromSlash(d))
	if !inside {
		v.probs.add(field, "path %q leaves the workspace", d)
		return "", "", false
	}
	segs := strings.Split(rel, "/")
	lit := len(segs) // the segments before the first glob segment
	for k, seg := range segs {
		if !IsGlob(seg) {
			continue
		}
		lit = min(lit, k)
		if _, err := path.Match(seg, ""); err != nil {
			v.probs.add(field, "bad pattern %q: %v", d, err)
			return "", "", false
		}
	}
	prefix = path.Join(segs[:lit]...)
	if prefix == "" {
		prefix = "."
	}
	_, res, err := v.ws.writePath(filepath.FromSlash(prefix))
	if err != nil {
		v.probs.add(field, "%v", err)
		return "", "", false
	}
	if !v.notControl(field, d, res) {
		return "", "", false
	}
	return rel, prefix, true
}

// notControl reports whether res, a resolved workspace-relative path to
// read from, lies outside stateDir and locksDir (the workspace root itself
// holds them, and is fine); if not it says so for the path d as written.
func (v *validator) notControl(field, d, res string) bool {
	switch {
	case res != "." && v.stateRes != "" && slashWithin(v.stateRes, res):
		v.probs.add(field, "path %q is inside stateDir", d)
		return false
	case res != "." && v.locksRes != "" && slashWithin(v.locksRes, res):
		v.probs.add(field, "path %q is inside locksDir", d)
		return false
	}
	return true
}

// foreach checks a stage's "foreach" (nil: a plain stage). foreach.stage
// is checked by checkForeachStages once every stage name is known. The
// result is non-nil whenever the stage has a foreach, valid or not, so that
// its inputs and outputs are taken as templates.
func (v *validator) foreach(at string, fs *ForeachSpec) *Foreach {
	if fs == nil {
		return nil
	}
	out := &Foreach{}
	var set []string
	for _, f := range []struct{ name, val string }{{"glob", fs.Glob}, {"dir", fs.Dir}, {"stage", fs.Stage}} {
		if f.val != "" {
			set = append(set, f.name)
		}
	}
	switch len(set) {
	case 0:
		v.probs.add(at, "exactly one of glob, dir or stage")
		return out
	case 1:
	default:
		v.probs.add(at, "exactly one of glob, dir or stage, got %s and %s", strings.Join(set[:len(set)-1], ", "), set[len(set)-1])
		return out
	}
	switch {
	case fs.Glob != "":
		rel, prefix, ok := v.workspaceGlob(at+".glob", fs.Glob)
		if !ok {
			return out
		}
		if prefix == rel {
			v.probs.add(at+".glob", "pattern %q has no glob segment (*, ? or [); for every file under a directory use foreach.dir", fs.Glob)
			return out
		}
		out.Glob, out.Root = rel, prefix
	case fs.Dir != "":
		field := at + ".dir"
		if !v.noNUL(field, fs.Dir) {
			return out
		}
		rel, res, err := v.ws.writePath(filepath.FromSlash(fs.Dir))
		if err != nil {
			v.probs.add(field, "%v", err)
			return out
		}
		if slices.ContainsFunc(strings.Split(rel, "/"), IsGlob) {
			v.probs.add(field, "path %q holds a pattern; use foreach.glob", fs.Dir)
			return out
		}
		if !v.notControl(field, fs.Dir, res) {
			return out
		}
		out.Dir, out.Root = rel, rel
	default:
		out.Stage = fs.Stage
	}
	return out
}

// distinctVars are the template variables that tell the items of a stage
// apart: every output of a fan-out stage uses one of them.
var distinctVars = []string{"item", "path", "name", "stem"}

const distinctVarList = "{item}, {path}, {name} or {stem}"

func isDistinctVar(name string) bool { return slices.Contains(distinctVars, name) }

// template checks an input or output p of a stage. In a fan-out stage p is
// a template (ParseTemplate); it returns the variables it uses. A ".." after
// a variable is refused: cleaning would drop it together with the variable,
// whatever the variable's value. Elsewhere braces are refused: templates
// need foreach.
func (v *validator) template(field, p string, fanOut bool) ([]string, bool) {
	if !fanOut {
		if IsTemplate(p) {
			v.probs.add(field, "path %q has { or }: templates are only allowed in fan-out stages (foreach)", p)
			return nil, false
		}
		return nil, true
	}
	vars, err := ParseTemplate(p)
	if err != nil {
		v.probs.add(field, "%v", err)
		return nil, false
	}
	afterVar := false
	for _, seg := range strings.Split(filepath.ToSlash(p), "/") {
		if seg == ".." && afterVar {
			v.probs.add(field, `template %q has ".." after a template variable`, p)
			return nil, false
		}
		if vs, _ := ParseTemplate(seg); len(vs) > 0 {
			afterVar = true
		}
	}
	return vars, true
}

// checkForeachStages checks every foreach.stage now that every name is
// known: another existing stage, itself a fan-out stage.
func (v *validator) checkForeachStages(stages []Stage, firstByName map[string]int) {
	names := slices.Collect(maps.Keys(firstByName))
	slices.Sort(names)
	for i, s := range stages {
		if s.Foreach == nil || s.Foreach.Stage == "" {
			continue
		}
		field := fmt.Sprintf("stages[%d].foreach.stage", i)
		up := s.Foreach.Stage
		j, known := firstByName[up]
		switch {
		case up == s.Name:
			v.probs.add(field, "stage %q cannot take its items from itself", up)
		case !known:
			v.probs.add(field, "unknown stage %q%s", up, didYouMean(up, names))
		case stages[j].Foreach == nil:
			v.probs.add(field, "stage %q is not a fan-out stage (it has no foreach)", up)
		}
	}
}

// checkFanOutDirs rejects a fan-out stage's outputDir that is, contains or
// lies inside another stage's outputDir: a fan-out stage removes the
// outputs of items that went, and its fan-ins read the whole directory. It
// compares resolved paths and reports each pair once, at the later stage.
func (v *validator) checkFanOutDirs(stages []Stage) {
	for j := range stages {
		for i := range j {
			a, b := v.outDirRes[i], v.outDirRes[j]
			if a == "" || b == "" || (!stages[i].IsFanOut() && !stages[j].IsFanOut()) {
				continue
			}
			var what string
			switch {
			case a == b:
				what = fmt.Sprintf("is also the outputDir of stage %q (stages[%d])", stages[i].Name, i)
			case slashWithin(a, b):
				what = fmt.Sprintf("lies inside %q, the outputDir of stage %q (stages[%d])", stages[i].OutputDir, stages[i].Name, i)
			case slashWithin(b, a):
				what = fmt.Sprintf("contains %q, the outputDir of stage %q (stages[%d])", stages[i].OutputDir, stages[i].Name, i)
			default:
				continue
			}
			fan := stages[j].Name
			if !stages[j].IsFanOut() {
				fan = stages[i].Name
			}
			v.probs.add(fmt.Sprintf("stages[%d].outputDir", j), "path %q %s; fan-out stage %q needs an outputDir of its own",
				stages[j].OutputDir, what, fan)
		}
	}
}

// IsGlob reports whether a codeDeps path segment is a pattern: it holds one
// of path.Match's metacharacters * ? [ (** is one too). In a pattern, \
// escapes the next character (except on Windows, where it separates).
func IsGlob(seg string) bool { return strings.ContainsAny(seg, "*?[") }

// outputDir checks a stage's outputDir; it returns the workspace-relative
// form as written and as resolved, or "" when invalid.
func (v *validator) outputDir(field, dir string) (rel, res string) {
	if dir == "" {
		v.probs.add(field, "required")
		return "", ""
	}
	if !v.noNUL(field, dir) {
		return "", ""
	}
	rel, res, err := v.ws.writePath(dir)
	if err != nil {
		v.probs.add(field, "%v", err)
		return "", ""
	}
	switch {
	case rel == "." || res == ".":
		v.probs.add(field, "must not be the workspace root")
	case v.stateRes != "" && slashWithin(v.stateRes, res):
		v.probs.add(field, "path %q is inside stateDir", dir)
	case v.locksRes != "" && slashWithin(v.locksRes, res):
		v.probs.add(field, "path %q is inside locksDir", dir)
	default:
		return rel, res
	}
	return "", ""
}

// outputs checks a stage's output files; it returns them cleaned (relative
// to outputDir) and as resolved workspace-relative paths ("" when invalid).
func (v *validator) outputs(at, rawDir, relDir string, outs []string, fanOut bool) (clean, res []string) {
	if fanOut && len(outs) == 0 {
		v.probs.add(at+".outputs", "required in a fan-out stage: at least one output using %s", distinctVarList)
	}
	clean = make([]string, 0, len(outs))
	res = make([]string, 0, len(outs))
	seen := map[string]int{}
	for j, o := range outs {
		field := fmt.Sprintf("%s.outputs[%d]", at, j)
		switch {
		case o == "":
			v.probs.add(field, "must not be empty")
			continue
		case !v.noNUL(field, o):
			continue
		case filepath.IsAbs(o) || path.IsAbs(filepath.ToSlash(o)):
			v.probs.add(field, "path %q is absolute; outputs are relative to outputDir", o)
			continue
		case slices.Contains(strings.Split(filepath.ToSlash(o), "/"), ".."):
			v.probs.add(field, `path %q must not contain ".."`, o)
			continue
		}
		vars, ok := v.template(field, o, fanOut)
		if !ok {
			continue
		}
		if fanOut && !slices.ContainsFunc(vars, isDistinctVar) {
			v.probs.add(field, "template %q must use %s, so that items do not collide", o, distinctVarList)
			continue
		}
		c := path.Clean(filepath.ToSlash(o))
		if c == "." {
			v.probs.add(field, "path %q names the outputDir itself, not a file", o)
			continue
		}
		if k, dup := seen[c]; dup {
			v.probs.add(field, "duplicate output %q (also outputs[%d])", o, k)
			continue
		}
		seen[c] = j
		r := ""
		if relDir != "" {
			_, rr, err := v.ws.writePath(filepath.Join(rawDir, filepath.FromSlash(c)))
			if err != nil {
				v.probs.add(field, "%v", err)
				continue
			}
			r = rr
		}
		clean = append(clean, c)
		res = append(res, r)
	}
	return clean, res
}

// checkDependsOn validates declared edges now that every name is known.
func (v *validator) checkDependsOn(stages []Stage, firstByName map[string]int) {
	names := slices.Collect(maps.Keys(firstByName))
	slices.Sort(names)
	for i, s := range stages {
		seen := map[string]int{}
		for j, dep := range s.Declared {
			field := fmt.Sprintf("stages[%d].dependsOn[%d]", i, j)
			if k, dup := seen[dep]; dup {
				v.probs.add(field, "duplicate %q (also dependsOn[%d])", dep, k)
				continue
			}
			seen[dep] = j
			switch _, known := firstByName[dep]; {
			case dep == s.Name:
				v.probs.add(field, "stage %q depends on itself", dep)
			case !known:
				v.probs.add(field, "unknown stage %q%s", dep, didYouMean(dep, names))
			}
		}
	}
}

// checkWriteConflicts rejects two stages writing the same file, a file
// where another stage needs a directory, and outputs that would overwrite a
// completion marker. It compares resolved paths, so symlinked aliases of the
// same place are caught too.
func (v *validator) checkWriteConflicts(stages []Stage) {
	type owner struct {
		stage  int
		output int // -1: the stage's completion marker
	}
	files := map[string]owner{}
	for i, s := range stages {
		if v.outDirRes[i] != "" && s.Name != "" {
			files[path.Join(v.outDirRes[i], runstate.MarkerName(s.Name))] = owner{i, -1}
		}
	}
	describe := func(o owner) string {
		if o.output < 0 {
			return fmt.Sprintf("the completion marker of stage %q", stages[o.stage].Name)
		}
		return fmt.Sprintf("an output of stage %q (stages[%d].outputs[%d])", stages[o.stage].Name, o.stage, o.output)
	}
	for i := range stages {
		if stages[i].IsFanOut() {
			continue // templates; checkFanOutDirs gives it its outputDir alone
		}
		for j, f := range v.outFileRes[i] {
			if f == "" {
				continue
			}
			if prev, dup := files[f]; dup {
				v.probs.add(fmt.Sprintf("stages[%d].outputs[%d]", i, j), "file %q is also %s", f, describe(prev))
				continue
			}
			files[f] = owner{i, j}
		}
	}
	// Nothing may need a directory where a file is written.
	check := func(field, p string, self bool) bool {
		if p == "" {
			return true
		}
		d := p
		if !self {
			d = path.Dir(p)
		}
		for ; d != "." && d != "/"; d = path.Dir(d) {
			if o, ok := files[d]; ok {
				if d == p {
					v.probs.add(field, "path %q is already %s", p, describe(o))
				} else {
					v.probs.add(field, "path %q is inside %q, which is %s", p, d, describe(o))
				}
				return false
			}
		}
		return true
	}
	check("stateDir", v.stateRes, true)
	check("locksDir", v.locksRes, true)
	for i := range stages {
		if v.outDirRes[i] != "" && !check(fmt.Sprintf("stages[%d].outputDir", i), v.outDirRes[i], true) {
			continue // its outputs would only repeat the problem
		}
		for j, f := range v.outFileRes[i] {
			if f != "" {
				check(fmt.Sprintf("stages[%d].outputs[%d]", i, j), f, false)
			}
		}
	}
}
