// Package runstate owns guardrun's state directory: where every file lives
// (Layout: run_<id>.json, stage_<name>.json, items_<stage>.{jsonl,sum},
// progress_<stage>.json, metrics_<id>.{json,prom}, audit.jsonl, audit.d/,
// logs/, guardrun.log, preflight.json, hashcache.txt, bin/,
// report_<id>.html, the locks, and the markers and staging dirs guardrun
// keeps inside output dirs), the record
// types of those files, the audit event names with their typed payloads,
// and the listing of runs. The runner writes state through it; status,
// verify, report and the CLI read through it. No other package builds a
// state path or decodes a state file by hand.
//
// Every write is atomic (internal/atomicfile: temp file in the same dir,
// fsync, rename, fsync dir), so a state file always parses. The metrics
// document's own type and encodings belong to package metrics; this package
// only decides where it lives.
package runstate
