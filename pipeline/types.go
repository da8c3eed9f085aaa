package pipeline

import "encoding/json"

// FormatVersion is the only spec format version this build understands.
const FormatVersion = 1

// Built-in defaults, applied when neither the stage nor the spec's
// "defaults" block sets a value. They are documented in the README.
const (
	DefaultStateDir          = "state"
	DefaultLocksDir          = "locks"
	DefaultRetainRuns        = 50 // runs whose files stateDir keeps
	MaxRetainRuns            = 1_000_000
	DefaultCPUs              = 1.0
	DefaultMemoryMB          = 1024
	DefaultPids              = 512
	DefaultTimeoutSeconds    = 3600
	DefaultMaxAttempts       = 3
	DefaultBaseDelayMs       = 100
	DefaultMaxDelayMs        = 5000
	DefaultMultiplier        = 2.0
	DefaultJitter            = 0.2
	DefaultCheckpointLines   = 100000
	DefaultCheckpointSeconds = 1.0
	// MaxBatchItems bounds batch.maxItems: one item list stays a few MB.
	MaxBatchItems              = 100000
	DefaultRetryableExitCode   = 75 // EX_TEMPFAIL
	DefaultIOConcurrencyFactor = 2  // run budget ioConcurrency = cpus * factor when unset
)

// ---------------------------------------------------------------------------
// On-disk form. Pointers and nil slices mark what the file left unset, so that
// defaults can be layered: stage, then spec "defaults", then built-ins.

// File is pipeline.json exactly as written.
type File struct {
	Version   *int         `json:"version"`
	Name      string       `json:"name"`
	StateDir  string       `json:"stateDir,omitempty"`
	LocksDir  string       `json:"locksDir,omitempty"`
	Resources *BudgetSpec  `json:"resources,omitempty"`
	Defaults  *DefaultSpec `json:"defaults,omitempty"`
	// Retention bounds the per-run files kept in stateDir.
	Retention *RetentionSpec `json:"retention,omitempty"`
	Stages    []StageSpec    `json:"stages"`
}

// RetentionSpec is how many runs' files (run_<id>.json, metrics, report)
// stateDir keeps; older runs are compacted into the audit chain.
type RetentionSpec struct {
	Runs *int `json:"runs,omitempty"`
}

// BudgetSpec is the whole-run resource budget.
type BudgetSpec struct {
	CPUs          *float64 `json:"cpus,omitempty"`
	MemoryMB      *int64   `json:"memoryMB,omitempty"`
	IOConcurrency *int     `json:"ioConcurrency,omitempty"`
}

// DefaultSpec holds per-stage settings that stages inherit.
type DefaultSpec struct {
	Retry          *RetrySpec      `json:"retry,omitempty"`
	Resources      *ResourceSpec   `json:"resources,omitempty"`
	Checkpoint     *CheckpointSpec `json:"checkpoint,omitempty"`
	TimeoutSeconds *int            `json:"timeoutSeconds,omitempty"`
}

// StageSpec is one stage as written.
type StageSpec struct {
	Name           string            `json:"name"`
	Processor      ProcessorSpec     `json:"processor"`
	Version        string            `json:"version,omitempty"`
	Params         json.RawMessage   `json:"params,omitempty"`
	Inputs         []string          `json:"inputs,omitempty"`
	CodeDeps       []string          `json:"codeDeps,omitempty"`
	OutputDir      string            `json:"outputDir"`
	Outputs        []string          `json:"outputs,omitempty"`
	DependsOn      []string          `json:"dependsOn,omitempty"`
	Idempotency    *IdempotencySpec  `json:"idempotency,omitempty"`
	Checkpoint     *CheckpointSpec   `json:"checkpoint,omitempty"`
	Retry          *RetrySpec        `json:"retry,omitempty"`
	Resources      *ResourceSpec     `json:"resources,omitempty"`
	TimeoutSeconds *int              `json:"timeoutSeconds,omitempty"`
	Env            map[string]string `json:"env,omitempty"`
	// IOHeavy marks a stage that counts against the run's ioConcurrency.
	// Unset means true: most stages stream files.
	IOHeavy *bool `json:"ioHeavy,omitempty"`
	// Foreach makes the stage a fan-out: one job per item (docs/SPEC.md).
	Foreach *ForeachSpec `json:"foreach,omitempty"`
	// Batch lets one process of a fan-out stage take many items.
	Batch *BatchSpec `json:"batch,omitempty"`
}

// ForeachSpec is where a fan-out stage's items come from: exactly one of
// Glob, Dir or Stage.
type ForeachSpec struct {
	// Glob: the regular files matching a workspace-relative pattern
	// (path.Match segments, "**" for any number of directories).
	Glob string `json:"glob,omitempty"`
	// Dir: every regular file under a workspace directory, recursively.
	Dir string `json:"dir,omitempty"`
	// Stage: the items of an upstream fan-out stage, one to one.
	Stage string `json:"stage,omitempty"`
}

// BatchSpec asks for many items per process.
type BatchSpec struct {
	MaxItems *int `json:"maxItems,omitempty"`
}

// ProcessorSpec names the program a stage runs: exactly one of Go or Exec.
type ProcessorSpec struct {
	Go   string   `json:"go,omitempty"`
	Exec []string `json:"exec,omitempty"`
}

// IdempotencySpec switches skipping of up-to-date stages.
type IdempotencySpec struct {
	Enabled *bool `json:"enabled,omitempty"`
}

// CheckpointSpec controls progress checkpoints.
type CheckpointSpec struct {
	Enabled      *bool    `json:"enabled,omitempty"`
	EveryLines   *int64   `json:"everyLines,omitempty"`
	EverySeconds *float64 `json:"everySeconds,omitempty"`
}

// RetrySpec is the retry policy as written.
type RetrySpec struct {
	MaxAttempts        *int     `json:"maxAttempts,omitempty"`
	BaseDelayMs        *int64   `json:"baseDelayMs,omitempty"`
	MaxDelayMs         *int64   `json:"maxDelayMs,omitempty"`
	Multiplier         *float64 `json:"multiplier,omitempty"`
	Jitter             *float64 `json:"jitter,omitempty"`
	RetryableExitCodes []int    `json:"retryableExitCodes,omitempty"`
	RetryOnTimeout     *bool    `json:"retryOnTimeout,omitempty"`
	RetryOnOOM         *bool    `json:"retryOnOOM,omitempty"`
}

// ResourceSpec is a stage's resource limits as written.
type ResourceSpec struct {
	CPUs     *float64 `json:"cpus,omitempty"`
	MemoryMB *int64   `json:"memoryMB,omitempty"`
	Pids     *int64   `json:"pids,omitempty"`
	IO       *IOSpec  `json:"io,omitempty"`
}

// IOSpec asks for per-stage bandwidth limits (bytes per second; 0 = none).
type IOSpec struct {
	ReadBps  *int64 `json:"readBps,omitempty"`
	WriteBps *int64 `json:"writeBps,omitempty"`
}

// ---------------------------------------------------------------------------
// Resolved form: what Load returns. Every value is concrete (defaults applied),
// every path is cleaned and workspace-relative (slash-separated) unless it
// names a place outside the workspace, which only inputs and processors may.

// Pipeline is a loaded, validated spec.
type Pipeline struct {
	Version   int     `json:"version"`
	Name      string  `json:"name"`
	SpecPath  string  `json:"specPath"`  // absolute path of pipeline.json
	Workspace string  `json:"workspace"` // absolute, symlinks resolved: the spec's directory
	StateDir  string  `json:"stateDir"`  // absolute
	LocksDir  string  `json:"locksDir"`  // absolute
	Budget    Budget  `json:"resources"`
	Stages    []Stage `json:"stages"`
	// SpecHash is the SHA-256 (hex) of the spec file's bytes.
	SpecHash string `json:"specHash"`

	// Retention is how many runs keep their files (DefaultRetainRuns).
	Retention Retention `json:"retention"`
}

// Retention is the resolved retention of per-run files.
type Retention struct {
	Runs int `json:"runs"`
}

// Budget is the whole-run budget with host defaults applied.
type Budget struct {
	CPUs          float64 `json:"cpus"`
	MemoryMB      int64   `json:"memoryMB"`
	IOConcurrency int     `json:"ioConcurrency"`
}

// Stage is one resolved stage.
type Stage struct {
	Index     int             `json:"index"`
	Name      string          `json:"name"`
	Processor Processor       `json:"processor"`
	Version   string          `json:"version"`
	Params    json.RawMessage `json:"params"` // compact JSON; {} when unset
	// Inputs are cleaned paths: workspace-relative with forward slashes, or
	// absolute when outside the workspace (policy decides if allowed).
	// In a fan-out stage they are templates, to expand per item and clean
	// (an entry without a variable is shared by every item). Left out or
	// empty in the spec, they are ["{path}"] for foreach.glob and
	// foreach.dir, and stay empty for a chained stage (foreach.stage): each
	// item then reads every output of the same item upstream.
	Inputs []string `json:"inputs"`
	// CodeDeps are the files, directories and globs of code and data the
	// processor reads beyond its inputs (docs/SPEC.md): cleaned,
	// workspace-relative with forward slashes; never outside the workspace.
	CodeDeps  []string `json:"codeDeps"`
	OutputDir string   `json:"outputDir"` // workspace-relative, forward slashes
	Outputs   []string `json:"outputs"`   // relative to OutputDir, forward slashes; templates in a fan-out stage
	// DependsOn lists every upstream stage: declared edges, data edges and
	// the implicit sequential edge (see Edges in the README).
	DependsOn []string `json:"dependsOn"`
	// Declared is DependsOn exactly as written (nil when omitted).
	Declared       []string          `json:"declaredDependsOn"`
	Idempotent     bool              `json:"idempotent"`
	Checkpoint     Checkpoint        `json:"checkpoint"`
	Retry          Retry             `json:"retry"`
	Resources      Resources         `json:"resources"`
	TimeoutSeconds int               `json:"timeoutSeconds"`
	Env            map[string]string `json:"env"`
	IOHeavy        bool              `json:"ioHeavy"`
	// Foreach is set on a fan-out stage; nil on a plain stage. Inputs and
	// Outputs of a fan-out stage may hold templates ({path}, ...), expanded
	// per item (ExpandTemplate).
	Foreach *Foreach `json:"foreach,omitempty"`
	// BatchMaxItems is how many items one process of a fan-out stage takes
	// (0: one process per item).
	BatchMaxItems int `json:"batchMaxItems,omitempty"`
}

// Foreach is a resolved item source: exactly one of Glob, Dir or Stage.
type Foreach struct {
	// Glob is the cleaned workspace-relative pattern.
	Glob string `json:"glob,omitempty"`
	// Dir is the cleaned workspace-relative directory.
	Dir string `json:"dir,omitempty"`
	// Stage names the upstream fan-out stage whose items these are.
	Stage string `json:"stage,omitempty"`
	// Root is the directory item ids are relative to: Dir, or the glob's
	// leading segments without a pattern ("." for none); "" for Stage.
	Root string `json:"root,omitempty"`
}

// IsFanOut reports whether the stage fans out over items.
func (s *Stage) IsFanOut() bool { return s.Foreach != nil }

// Processor is a resolved processor.
type Processor struct {
	Kind string `json:"kind"` // "go" or "exec"
	// Go: the package directory, workspace-relative (or absolute if outside).
	Go string `json:"go,omitempty"`
	// Exec: argv as written; Exec[0] is resolved at run time against the
	// workspace, then PATH.
	Exec []string `json:"exec,omitempty"`
}

// Checkpoint is the resolved checkpoint policy.
type Checkpoint struct {
	Enabled      bool    `json:"enabled"`
	EveryLines   int64   `json:"everyLines"`
	EverySeconds float64 `json:"everySeconds"`
}

// Retry is the resolved retry policy.
type Retry struct {
	MaxAttempts        int     `json:"maxAttempts"`
	BaseDelayMs        int64   `json:"baseDelayMs"`
	MaxDelayMs         int64   `json:"maxDelayMs"`
	Multiplier         float64 `json:"multiplier"`
	Jitter             float64 `json:"jitter"`
	RetryableExitCodes []int   `json:"retryableExitCodes"`
	RetryOnTimeout     bool    `json:"retryOnTimeout"`
	RetryOnOOM         bool    `json:"retryOnOOM"`
}

// Resources are a stage's resolved limits.
type Resources struct {
	CPUs     float64 `json:"cpus"`
	MemoryMB int64   `json:"memoryMB"`
	Pids     int64   `json:"pids"`
	IO       IO      `json:"io"`
}

// IO holds resolved bandwidth limits; 0 means unlimited.
type IO struct {
	ReadBps  int64 `json:"readBps"`
	WriteBps int64 `json:"writeBps"`
}
