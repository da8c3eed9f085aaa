package runstate

import (
	"path/filepath"
	"strings"

	"github.com/guardrun/guardrun/internal/atomicfile"
)

// Layout is where a pipeline's state and locks live. Every path guardrun
// uses in stateDir and locksDir comes from here.
type Layout struct {
	StateDir string
	LocksDir string
}

// RunFile is run_<id>.json.
func (l Layout) RunFile(runID string) string {
	return filepath.Join(l.StateDir, runPrefix+runID+jsonExt)
}

// StageFile is stage_<name>.json: the stage's last execution.
func (l Layout) StageFile(stage string) string {
	return filepath.Join(l.StateDir, "stage_"+stage+jsonExt)
}

// ProgressFile is progress_<stage>.json: the stage's last checkpoint.
func (l Layout) ProgressFile(stage string) string {
	return filepath.Join(l.StateDir, "progress_"+stage+jsonExt)
}

// InputsDir holds the input lists too long for a processor's environment
// (PIPELINE_INPUTS_FILE), one per running attempt.
func (l Layout) InputsDir() string { return filepath.Join(l.StateDir, "inputs") }

// BatchFile is the item list of a batched stage's process (job is the
// batch's name, or an item's job run alone).
func (l Layout) BatchFile(job string) string {
	return filepath.Join(l.InputsDir(), job+".items"+jsonExt)
}

// InputsFile is the input list of job (a stage or an item's job).
func (l Layout) InputsFile(job string) string {
	return filepath.Join(l.InputsDir(), job+jsonExt)
}

// MetricsJSON is metrics_<id>.json.
func (l Layout) MetricsJSON(runID string) string {
	return filepath.Join(l.StateDir, "metrics_"+runID+jsonExt)
}

// MetricsLastProm is metrics_last.prom: the latest run's stable series,
// for node_exporter's textfile collector.
func (l Layout) MetricsLastProm() string {
	return filepath.Join(l.StateDir, "metrics_last.prom")
}

// MetricsProm is metrics_<id>.prom (Prometheus text).
func (l Layout) MetricsProm(runID string) string {
	return filepath.Join(l.StateDir, "metrics_"+runID+".prom")
}

// AuditLog is audit.jsonl, the hash-chained audit log.
func (l Layout) AuditLog() string { return filepath.Join(l.StateDir, "audit.jsonl") }

// AuditDir is audit.d/, the side files of audit records stored by digest
// (a stage's outputs when they are too many for one record).
func (l Layout) AuditDir() string { return filepath.Join(l.StateDir, auditDir) }

// OutputsFile is audit.d/outputs-<sha256>.json: the outputs of a stage.end
// record stored by digest, named by the SHA-256 of its bytes.
func (l Layout) OutputsFile(sha256Hex string) string {
	return filepath.Join(l.StateDir, OutputsFileRel(sha256Hex))
}

// OutputsFileRel is OutputsFile relative to stateDir, with forward slashes
// (what a stage.end record says in outputsFile).
func OutputsFileRel(sha256Hex string) string { return auditDir + "/outputs-" + sha256Hex + jsonExt }

// LogDir holds the processors' stdout and stderr, one file per stage.
func (l Layout) LogDir() string { return filepath.Join(l.StateDir, "logs") }

// StageLog is logs/<stage>.log.
func (l Layout) StageLog(stage string) string { return filepath.Join(l.LogDir(), stage+".log") }

// GuardrunLog is guardrun.log, the structured (JSON lines) log.
func (l Layout) GuardrunLog() string { return filepath.Join(l.StateDir, "guardrun.log") }

// PreflightFile is preflight.json, the cached policy and lint verdicts.
func (l Layout) PreflightFile() string { return filepath.Join(l.StateDir, "preflight.json") }

// HashCache is hashcache.txt, the stat/hash cache.
func (l Layout) HashCache() string { return filepath.Join(l.StateDir, "hashcache.txt") }

// BinDir is where a Go processor built from the source with hash
// sourceHash is cached.
func (l Layout) BinDir(sourceHash string) string {
	if len(sourceHash) > 24 {
		sourceHash = sourceHash[:24]
	}
	return filepath.Join(l.StateDir, "bin", sourceHash)
}

// ReportFile is the default path of a run's HTML report.
func (l Layout) ReportFile(runID string) string {
	return filepath.Join(l.StateDir, "report_"+runID+".html")
}

// RunFiles are the files of one run that retention deletes: the report,
// the metrics and, last, run_<id>.json.
func (l Layout) RunFiles(runID string) []string {
	return []string{l.ReportFile(runID), l.MetricsProm(runID), l.MetricsJSON(runID), l.RunFile(runID)}
}

// PipelineLock is the lock every run takes.
func (l Layout) PipelineLock() string { return filepath.Join(l.LocksDir, "pipeline.lock") }

// StageLock is the lock a stage holds while it runs.
func (l Layout) StageLock(stage string) string {
	return filepath.Join(l.LocksDir, "stage_"+stage+".lock")
}

// MarkerName is the base name of a stage's completion marker.
func MarkerName(stage string) string { return "." + stage + markerExt }

// MarkerFile is <outputDir>/.<stage>.done, written last on success.
func MarkerFile(outDir, stage string) string { return filepath.Join(outDir, MarkerName(stage)) }

// StagingDir is <outputDir>/.<stage>.staging, where a processor writes.
func StagingDir(outDir, stage string) string {
	return filepath.Join(outDir, "."+stage+stagingExt)
}

// IsArtifact reports whether name is something guardrun itself creates in
// output dirs (a marker, a staging dir, a temp file of an atomic write), so
// that a directory input never counts it as data.
func IsArtifact(name string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	return strings.HasSuffix(name, markerExt) || strings.HasSuffix(name, stagingExt) || atomicfile.IsTemp(name)
}

const (
	runPrefix  = "run_"
	jsonExt    = ".json"
	markerExt  = ".done"
	stagingExt = ".staging"
	auditDir   = "audit.d"
)
