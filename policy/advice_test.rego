package guardrun.pipeline_test

# --- GR101: checkpoint disabled -----------------------------------------------------

test_gr101_large_input if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/stages/0/checkpoint/enabled", "value": false},
		{"op": "add", "path": "/host/inputBytes", "value": {"stage_copy": 1073741824}},
	])
	warned(inp, "GR101", "stage_copy")
}

test_gr101_unknown_size if {
	warned(set("/pipeline/stages/0/checkpoint/enabled", false), "GR101", "stage_copy")
}

test_gr101_small_input_passes if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/stages/0/checkpoint/enabled", "value": false},
		{"op": "add", "path": "/host/inputBytes", "value": {"stage_copy": 4096}},
	])
	not "GR101" in warned_rules(inp)
}

test_gr101_is_not_a_denial if {
	count(deny_of(set("/pipeline/stages/0/checkpoint/enabled", false))) == 0
}

# --- GR102: idempotency disabled ------------------------------------------------------

test_gr102 if {
	warned(set("/pipeline/stages/1/idempotent", false), "GR102", "stage_sort")
}

# --- GR103: jitter ---------------------------------------------------------------------

test_gr103_huge if {
	warned(set("/pipeline/stages/0/retry/jitter", 3), "GR103", "stage_copy")
}

test_gr103_negative if {
	warned(set("/pipeline/stages/0/retry/jitter", -0.1), "GR103", "stage_copy")
}

test_gr103_bound_passes if {
	not "GR103" in warned_rules(set("/pipeline/stages/0/retry/jitter", 0.5))
}

# --- GR104: multiplier -------------------------------------------------------------------

test_gr104_shrinking if {
	warned(set("/pipeline/stages/0/retry/multiplier", 0.5), "GR104", "stage_copy")
}

test_gr104_exploding if {
	warned(set("/pipeline/stages/0/retry/multiplier", 100), "GR104", "stage_copy")
}

test_gr104_single_attempt_passes if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/stages/0/retry/multiplier", "value": 100},
		{"op": "replace", "path": "/pipeline/stages/0/retry/maxAttempts", "value": 1},
	])
	not "GR104" in warned_rules(inp)
}

# --- GR105: worst case over a day -----------------------------------------------------------

test_gr105 if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/stages/0/retry/retryOnTimeout", "value": true},
		{"op": "replace", "path": "/pipeline/stages/0/retry/maxAttempts", "value": 10},
		{"op": "replace", "path": "/pipeline/stages/0/timeoutSeconds", "value": 36000},
	])
	warned(inp, "GR105", "stage_copy")
}

test_gr105_without_retry_on_timeout_passes if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/stages/0/retry/maxAttempts", "value": 10},
		{"op": "replace", "path": "/pipeline/stages/0/timeoutSeconds", "value": 36000},
	])
	not "GR105" in warned_rules(inp)
}

# --- GR106: base delay over the cap ------------------------------------------------------------

test_gr106 if {
	warned(set("/pipeline/stages/0/retry/baseDelayMs", 10000), "GR106", "stage_copy")
}

# --- GR107: budget over host cpus -----------------------------------------------------------------

test_gr107 if {
	warned(set("/pipeline/resources/cpus", 16), "GR107", "")
}

test_gr107_fits_passes if {
	not "GR107" in warned_rules(set("/pipeline/resources/cpus", 4))
}

# --- GR108: checkpoints too often ------------------------------------------------------------------

test_gr108_seconds if {
	warned(set("/pipeline/stages/0/checkpoint/everySeconds", 0.01), "GR108", "stage_copy")
}

test_gr108_lines if {
	warned(set("/pipeline/stages/0/checkpoint/everyLines", 10), "GR108", "stage_copy")
}

test_gr108_unused_trigger_passes if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/stages/0/checkpoint/everySeconds", "value": 0},
		{"op": "replace", "path": "/pipeline/stages/0/checkpoint/everyLines", "value": 0},
	])
	not "GR108" in warned_rules(inp)
}
