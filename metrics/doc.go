// Package metrics owns the per-run metrics files in stateDir:
// metrics_<id>.json (per-stage wall and CPU time, peak memory, bytes and
// lines in and out, attempts, retries, plus run totals) and metrics_<id>.prom,
// the same numbers in the Prometheus text exposition format 0.0.4 for
// node_exporter's textfile collector. It defines the types, computes totals
// and writes both files atomically; collecting the numbers is the runner's
// job.
package metrics
