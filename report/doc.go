// Package report owns `guardrun report`: one self-contained HTML page per
// run, rendered from the files a run leaves in stateDir (run_<id>.json,
// stage_<name>.json, metrics_<id>.json, audit.jsonl). The page needs no
// network, no external assets and no JavaScript: styles are inline and the
// timeline is inline SVG.
//
// Build collects a run into a Model, Render writes the Model as HTML with
// html/template (every value escaped), and Write does both into a file,
// atomically.
package report
