# Shared fixtures for the policy's unit tests: a clean two-stage pipeline in
# the resolved form guardrun passes as input, and helpers to mutate it.
package guardrun.pipeline_test

import data.guardrun.pipeline

stage_copy := {
	"index": 0,
	"name": "stage_copy",
	"processor": {"kind": "go", "go": "processors/copy"},
	"version": "",
	"params": {},
	"inputs": ["data/input/sample.txt"],
	"outputDir": "data/work",
	"outputs": ["copy.txt"],
	"dependsOn": [],
	"idempotent": true,
	"checkpoint": {"enabled": true, "everyLines": 100000, "everySeconds": 1},
	"retry": {
		"maxAttempts": 3, "baseDelayMs": 100, "maxDelayMs": 5000, "multiplier": 2,
		"jitter": 0.2, "retryableExitCodes": [75], "retryOnTimeout": false, "retryOnOOM": false,
	},
	"resources": {"cpus": 1, "memoryMB": 256, "pids": 64, "io": {"readBps": 0, "writeBps": 0}},
	"timeoutSeconds": 600,
	"env": {"LC_ALL": "C"},
	"ioHeavy": true,
}

stage_sort := object.union(stage_copy, {
	"index": 1,
	"name": "stage_sort",
	"processor": {"kind": "exec", "exec": ["tools/sort.sh", "-k1"]},
	"params": {"order": "asc", "columns": [1, 2]},
	"inputs": ["data/work/copy.txt"],
	"outputDir": "data/output",
	"outputs": ["sorted.txt"],
	"dependsOn": ["stage_copy"],
})

base := {
	"pipeline": {
		"version": 1,
		"name": "demo",
		"specPath": "/ws/pipeline.json",
		"workspace": "/ws",
		"stateDir": "/ws/state",
		"locksDir": "/ws/locks",
		"resources": {"cpus": 2, "memoryMB": 2048, "ioConcurrency": 2},
		"stages": [stage_copy, stage_sort],
	},
	"host": {
		"cpus": 4, "memoryMB": 8192, "os": "linux",
		"resolved": {"stage_sort": "/ws/tools/sort.sh"},
	},
}

# patched(ops): base with JSON-patch operations applied.
patched(ops) := json.patch(base, ops)

# set(path, value): base with one value replaced or added.
set(path, value) := patched([{"op": "add", "path": path, "value": value}])

deny_of(inp) := d if {
	d := pipeline.deny with input as inp
}

warn_of(inp) := w if {
	w := pipeline.warn with input as inp
}

violations_of(inp) := v if {
	v := pipeline.violations with input as inp
}

denied(inp, rule, stage) if {
	some v in deny_of(inp)
	v.rule == rule
	v.stage == stage
}

warned(inp, rule, stage) if {
	some v in warn_of(inp)
	v.rule == rule
	v.stage == stage
}

denied_rules(inp) := {v.rule | some v in deny_of(inp)}

warned_rules(inp) := {v.rule | some v in warn_of(inp)}

test_base_is_clean if {
	count(deny_of(base)) == 0
	count(warn_of(base)) == 0
	count(violations_of(base)) == 0
}
