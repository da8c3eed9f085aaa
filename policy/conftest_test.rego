package guardrun.pipeline_test

import data.guardrun.conftest
import data.guardrun.pipeline

# --- the conftest namespace mirrors guardrun's verdict ----------------------------

test_conftest_reports_violations_with_rule_and_stage if {
	inp := patched([
		{"op": "replace", "path": "/host/resolved/stage_sort", "value": "/usr/bin/sort"},
		{"op": "replace", "path": "/pipeline/stages/0/idempotent", "value": false},
	])
	d := conftest.deny with input as inp
	w := conftest.warn with input as inp
	{v.rule | some v in d} == {"GR001"}
	some v in d
	v.stage == "stage_sort"
	startswith(v.msg, `[GR001] stage_sort: processor.exec[0] "tools/sort.sh" resolves to "/usr/bin/sort"`)
	{[v.rule, v.stage] | some v in w} == {["GR102", "stage_copy"]}
	count(d) + count(w) == count(violations_of(inp))
}

test_conftest_applies_exceptions if {
	d := conftest.deny with input as bad_sort with pipeline.exception as {{"rule": "GR001", "stage": "stage_sort"}}
	count(d) == 0
	count(conftest.deny) == 1 with input as bad_sort
}

test_conftest_names_pipeline_findings if {
	some v in conftest.deny with input as set("/pipeline/resources/memoryMB", 65536)
	v.rule == "GR012"
	v.stage == ""
	startswith(v.msg, "[GR012] (pipeline): ")
}
