package guardrun.pipeline_test

# --- GR006: retry.maxAttempts ----------------------------------------------------

test_gr006_too_many if {
	denied(set("/pipeline/stages/0/retry/maxAttempts", 11), "GR006", "stage_copy")
}

test_gr006_zero if {
	denied(set("/pipeline/stages/0/retry/maxAttempts", 0), "GR006", "stage_copy")
}

test_gr006_bound_passes if {
	not "GR006" in denied_rules(set("/pipeline/stages/0/retry/maxAttempts", 10))
}

test_gr006_builtin_default_passes if {
	not "GR006" in denied_rules(patched([{"op": "remove", "path": "/pipeline/stages/0/retry"}]))
}

# --- GR007: retry delays ---------------------------------------------------------

test_gr007_max_delay if {
	denied(set("/pipeline/stages/1/retry/maxDelayMs", 600001), "GR007", "stage_sort")
}

test_gr007_negative_base if {
	denied(set("/pipeline/stages/1/retry/baseDelayMs", -1), "GR007", "stage_sort")
}

test_gr007_bound_passes if {
	not "GR007" in denied_rules(set("/pipeline/stages/1/retry/maxDelayMs", 600000))
}

# --- GR008: timeouts --------------------------------------------------------------

test_gr008_over_a_day if {
	denied(set("/pipeline/stages/0/timeoutSeconds", 86401), "GR008", "stage_copy")
}

test_gr008_zero_means_none if {
	denied(set("/pipeline/stages/0/timeoutSeconds", 0), "GR008", "stage_copy")
}

test_gr008_bound_passes if {
	not "GR008" in denied_rules(set("/pipeline/stages/0/timeoutSeconds", 86400))
}

test_gr008_builtin_default_passes if {
	not "GR008" in denied_rules(patched([{"op": "remove", "path": "/pipeline/stages/0/timeoutSeconds"}]))
}

# --- GR009: cpus -------------------------------------------------------------------

test_gr009_over_budget if {
	denied(set("/pipeline/stages/1/resources/cpus", 2.5), "GR009", "stage_sort")
}

test_gr009_zero if {
	denied(set("/pipeline/stages/1/resources/cpus", 0), "GR009", "stage_sort")
}

test_gr009_budget_from_host_when_unset if {
	inp := patched([
		{"op": "remove", "path": "/pipeline/resources"},
		{"op": "replace", "path": "/pipeline/stages/1/resources/cpus", "value": 6},
	])
	denied(inp, "GR009", "stage_sort")
}

test_gr009_within_passes if {
	not "GR009" in denied_rules(set("/pipeline/stages/1/resources/cpus", 2))
}

# --- GR010: memory -------------------------------------------------------------------

test_gr010_over_budget if {
	denied(set("/pipeline/stages/0/resources/memoryMB", 4096), "GR010", "stage_copy")
}

test_gr010_over_host if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/resources/memoryMB", "value": 65536},
		{"op": "replace", "path": "/pipeline/stages/0/resources/memoryMB", "value": 10000},
	])
	some v in deny_of(inp)
	v.rule == "GR010"
	contains(v.msg, "this host's 8192 MB")
}

test_gr010_zero if {
	denied(set("/pipeline/stages/0/resources/memoryMB", 0), "GR010", "stage_copy")
}

test_gr010_builtin_default_over_small_budget if {
	inp := patched([
		{"op": "remove", "path": "/pipeline/stages/0/resources"},
		{"op": "replace", "path": "/pipeline/resources/memoryMB", "value": 512},
	])
	denied(inp, "GR010", "stage_copy")
}

test_gr010_within_passes if {
	not "GR010" in denied_rules(set("/pipeline/stages/0/resources/memoryMB", 2048))
}

# --- GR011: pids -----------------------------------------------------------------------

test_gr011_unlimited if {
	denied(set("/pipeline/stages/0/resources/pids", 0), "GR011", "stage_copy")
}

test_gr011_too_many if {
	denied(set("/pipeline/stages/0/resources/pids", 40000), "GR011", "stage_copy")
}

test_gr011_bound_passes if {
	not "GR011" in denied_rules(set("/pipeline/stages/0/resources/pids", 32768))
}

# --- GR012: the run budget ----------------------------------------------------------------

test_gr012_budget_over_host_memory if {
	denied(set("/pipeline/resources/memoryMB", 16384), "GR012", "")
}

test_gr012_budget_zero if {
	denied(set("/pipeline/resources/ioConcurrency", 0), "GR012", "")
}

test_gr012_fits_passes if {
	not "GR012" in denied_rules(set("/pipeline/resources/memoryMB", 8192))
}

test_gr012_unknown_host_passes if {
	inp := patched([
		{"op": "remove", "path": "/host"},
		{"op": "replace", "path": "/pipeline/resources/memoryMB", "value": 16384},
	])
	count(deny_of(inp)) == 0
}
