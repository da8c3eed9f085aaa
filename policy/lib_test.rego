package guardrun.pipeline_test

import data.guardrun.pipeline

bad_sort := set("/host/resolved/stage_sort", "/usr/bin/sort")

# --- violations and exceptions ---------------------------------------------------

test_violations_carry_severity if {
	inp := patched([
		{"op": "replace", "path": "/host/resolved/stage_sort", "value": "/usr/bin/sort"},
		{"op": "replace", "path": "/pipeline/stages/0/idempotent", "value": false},
	])
	vs := violations_of(inp)
	{"rule": "GR001", "stage": "stage_sort", "severity": "deny"} in {{"rule": v.rule, "stage": v.stage, "severity": v.severity} | some v in vs}
	{"rule": "GR102", "stage": "stage_copy", "severity": "warn"} in {{"rule": v.rule, "stage": v.stage, "severity": v.severity} | some v in vs}
}

test_exception_waives_named_rule_and_stage if {
	vs := violations_of(bad_sort) with pipeline.exception as {{"rule": "GR001", "stage": "stage_sort"}}
	count(vs) == 0
	ws := pipeline.waived with input as bad_sort with pipeline.exception as {{"rule": "GR001", "stage": "stage_sort"}}
	count(ws) == 1
}

test_exception_other_stage_does_not_waive if {
	vs := violations_of(bad_sort) with pipeline.exception as {{"rule": "GR001", "stage": "stage_copy"}}
	count(vs) == 1
}

test_exception_other_rule_does_not_waive if {
	vs := violations_of(bad_sort) with pipeline.exception as {{"rule": "GR002", "stage": "stage_sort"}}
	count(vs) == 1
}

test_exception_wildcard_stage if {
	vs := violations_of(bad_sort) with pipeline.exception as {{"rule": "GR001", "stage": "*"}}
	count(vs) == 0
}

test_exception_ignores_non_objects if {
	vs := violations_of(bad_sort) with pipeline.exception as {"GR001"}
	count(vs) == 1
}

# --- user rules in other shapes ------------------------------------------------------

test_string_deny_with_id if {
	vs := violations_of(base) with pipeline.deny as {"[ACME1] stage_copy: no thanks"}
	vs == {{"rule": "ACME1", "stage": "", "msg": "stage_copy: no thanks", "severity": "deny"}}
}

test_string_deny_without_id if {
	vs := violations_of(base) with pipeline.deny as {"plain text"}
	vs == {{"rule": "user", "stage": "", "msg": "plain text", "severity": "deny"}}
}

test_object_with_message_field if {
	vs := violations_of(base) with pipeline.warn as {{"rule": "ACME2", "message": "m"}}
	vs == {{"rule": "ACME2", "stage": "", "msg": "m", "severity": "warn"}}
}

test_object_without_message if {
	vs := violations_of(base) with pipeline.deny as {{"stage": "stage_copy"}}
	some v in vs
	v.rule == "user"
	v.stage == "stage_copy"
	contains(v.msg, "stage_copy")
}

test_other_values if {
	vs := violations_of(base) with pipeline.deny as {42}
	vs == {{"rule": "user", "stage": "", "msg": "42", "severity": "deny"}}
}

test_string_exception_by_id if {
	vs := violations_of(base) with pipeline.deny as {"[ACME1] no"} with pipeline.exception as {{"rule": "ACME1", "stage": "*"}}
	count(vs) == 0
}

# --- helpers ----------------------------------------------------------------------------

test_field_path if {
	pipeline.field_path(["params", "a", 2, "b"]) == "params.a[2].b"
	pipeline.field_path([0, "x"]) == "[0].x"
}

test_tool_name if {
	pipeline.tool_name(`C:\bin\Curl.exe`) == "curl"
	pipeline.tool_name("/usr/bin/nc.openbsd") == "nc.openbsd"
}

test_missing_pipeline_is_clean if {
	count(deny_of({})) == 0
}
