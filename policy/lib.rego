# guardrun's built-in pipeline policy: shared accessors, and the `violations`
# set the Go evaluator queries.
#
# Input document (see docs/POLICY.md; its JSON schema, which every module is
# type-checked against, is schema/input.json):
#
#     {
#       "pipeline": <the resolved spec: pipeline.Pipeline as JSON>,
#       "host": {
#         "cpus": 8, "memoryMB": 15928, "os": "linux",
#         "resolved":   {"<stage>": "/abs/path/argv0/resolves/to"},   # optional
#         "interpreters": {"<stage>": [{"script", "line", "path", "real"}]},  # optional: #! chain
#         "inputBytes": {"<stage>": 123456}                            # optional
#       }
#     }
#
# Rules add objects {"rule": "GR0xx", "stage": "<stage or empty>", "msg": "..."}
# to `deny` (the run is refused) or `warn` (shown; fails only with --strict).
# `exception` waives a rule for a stage: exception contains {"rule": "GR002", "stage": "stage_x"}
# ("*" as the stage waives the rule everywhere).
package guardrun.pipeline

import data.guardrun.config

# ---------------------------------------------------------------------------
# Result the evaluator reads: deny and warn, normalized, minus exceptions.

violations contains v if {
	some d in deny
	n := normalize(d)
	not excepted(n)
	v := object.union(n, {"severity": "deny"})
}

violations contains v if {
	some w in warn
	n := normalize(w)
	not excepted(n)
	v := object.union(n, {"severity": "warn"})
}

# exception: empty unless a user module adds to it (package
# guardrun.pipeline):
#     exception contains {"rule": "GR002", "stage": "stage_sort"}
# so it is not defined here (see allowed_outside_paths in config.rego) and
# read by its full name, data.guardrun.pipeline.exception: undefined, it
# waives nothing.

# Exceptions that waived something, for the audit trail.
waived contains n if {
	some d in (deny | warn)
	n := normalize(d)
	excepted(n)
}

excepted(n) if {
	some e in data.guardrun.pipeline.exception
	is_object(e)
	e.rule == n.rule
	e.stage in {n.stage, "*"}
}

# User rules may produce plain strings; "[ID] text" keeps its id.
normalize(d) := {"rule": object.get(d, "rule", "user"), "stage": object.get(d, "stage", ""), "msg": message_of(d)} if is_object(d)

normalize(d) := {"rule": m[1], "stage": "", "msg": m[2]} if {
	is_string(d)
	m := regex.find_all_string_submatch_n(`^\[([A-Za-z0-9_.:-]+)\]\s*(.*)$`, d, 1)[0]
}

normalize(d) := {"rule": "user", "stage": "", "msg": d} if {
	is_string(d)
	not regex.match(`^\[[A-Za-z0-9_.:-]+\]`, d)
}

normalize(d) := {"rule": "user", "stage": "", "msg": sprintf("%v", [d])} if {
	not is_string(d)
	not is_object(d)
}

message_of(d) := d.msg if {
	is_string(d.msg)
} else := d.message if {
	is_string(d.message)
} else := sprintf("%v", [d])

# finding builds what deny and warn rules add. (Not named `violation`:
# conftest treats every rule named deny*, violation* or warn* in the
# namespace it tests as a rule to query, and a function cannot be queried.)
finding(id, stage, msg) := {"rule": id, "stage": stage, "msg": msg}

# ---------------------------------------------------------------------------
# Accessors with guardrun's built-in defaults as fallback.

stages := as_array(object.get(input, ["pipeline", "stages"], []))

workspace := trim_right(slash(object.get(input, ["pipeline", "workspace"], "")), "/")

host := as_object(object.get(input, "host", {}))

host_cpus := object.get(host, "cpus", 0)

host_memory_mb := object.get(host, "memoryMB", 0)

budget := as_object(object.get(input, ["pipeline", "resources"], {}))

budget_cpus := object.get(budget, "cpus", host_cpus)

budget_memory_mb := object.get(budget, "memoryMB", host_memory_mb / 2)

resource(s, key) := object.get(s, ["resources", key], config.builtin_defaults[key])

retry(s, key) := object.get(s, ["retry", key], config.builtin_defaults[key])

timeout_seconds(s) := object.get(s, "timeoutSeconds", config.builtin_defaults.timeoutSeconds)

env_of(s) := as_object(object.get(s, "env", {}))

inputs_of(s) := as_array(object.get(s, "inputs", []))

argv_of(s) := as_array(object.get(s, ["processor", "exec"], []))

as_array(x) := x if is_array(x)

as_array(x) := [] if not is_array(x)

as_object(x) := x if is_object(x)

as_object(x) := {} if not is_object(x)

# ---------------------------------------------------------------------------
# Paths.

slash(p) := replace(p, `\`, "/")

is_abs(p) if startswith(slash(p), "/")

is_abs(p) if regex.match(`^[A-Za-z]:/`, slash(p))

# under_workspace: an absolute path at or below the workspace directory.
under_workspace(p) if {
	workspace != ""
	startswith(slash(p), concat("", [workspace, "/"]))
}

# outside: the path leaves the workspace (absolute elsewhere, or climbs "..").
outside(p) if {
	is_abs(p)
	not under_workspace(p)
}

outside(p) if {
	not is_abs(p)
	some seg in split(slash(p), "/")
	seg == ".."
}

allowed_outside(p) if {
	some pattern in config.allowed_outside_paths
	glob.match(pattern, ["/"], slash(p))
}

basename(p) := b if {
	parts := split(slash(p), "/")
	b := parts[count(parts) - 1]
}

# tool_name: basename, lower case, without ".exe".
tool_name(p) := trim_suffix(lower(basename(p)), ".exe")

# field_path(["params", "a", 2]) == "params.a[2]"
field_path(p) := concat("", [seg | some i, e in p; seg := path_segment(i, e)])

path_segment(0, e) := e if is_string(e)

path_segment(i, e) := sprintf(".%s", [e]) if {
	i > 0
	is_string(e)
}

path_segment(_, e) := sprintf("[%d]", [e]) if is_number(e)
