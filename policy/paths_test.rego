package guardrun.pipeline_test

# --- GR001: processors inside the workspace --------------------------------

test_gr001_go_absolute_outside if {
	denied(set("/pipeline/stages/0/processor/go", "/opt/procs/copy"), "GR001", "stage_copy")
}

test_gr001_go_climbs_out if {
	denied(set("/pipeline/stages/0/processor/go", "processors/../../procs/copy"), "GR001", "stage_copy")
}

test_gr001_go_absolute_inside_passes if {
	not "GR001" in denied_rules(set("/pipeline/stages/0/processor/go", "/ws/processors/copy"))
}

test_gr001_go_allowed_outside_passes if {
	inp := set("/pipeline/stages/0/processor/go", "/opt/procs/copy")
	not "GR001" in denied_rules(inp) with data.guardrun.config.allowed_outside_paths as {"/opt/procs/*"}
}

test_gr001_exec_resolved_outside if {
	inp := set("/host/resolved/stage_sort", "/usr/bin/sort")
	denied(inp, "GR001", "stage_sort")
}

test_gr001_exec_resolved_allowed_passes if {
	inp := set("/host/resolved/stage_sort", "/usr/bin/sort")
	not "GR001" in denied_rules(inp) with data.guardrun.config.allowed_outside_paths as {"/usr/bin/sort"}
}

test_gr001_exec_resolved_windows_outside if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/workspace", "value": `C:\ws`},
		{"op": "replace", "path": "/host/resolved/stage_sort", "value": `C:\Windows\System32\sort.exe`},
	])
	denied(inp, "GR001", "stage_sort")
}

test_gr001_exec_resolved_windows_inside_passes if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/workspace", "value": `C:\ws`},
		{"op": "replace", "path": "/host/resolved/stage_sort", "value": `C:\ws\tools\sort.exe`},
	])
	not "GR001" in denied_rules(inp)
}

test_gr001_exec_unresolved_absolute if {
	inp := patched([
		{"op": "remove", "path": "/host/resolved"},
		{"op": "replace", "path": "/pipeline/stages/1/processor/exec/0", "value": "/usr/bin/sort"},
	])
	denied(inp, "GR001", "stage_sort")
}

test_gr001_exec_unresolved_relative_inside_passes if {
	inp := patched([{"op": "remove", "path": "/host/resolved"}])
	not "GR001" in denied_rules(inp)
}

test_gr001_exec_bare_name_on_path if {
	inp := patched([
		{"op": "remove", "path": "/host/resolved"},
		{"op": "replace", "path": "/pipeline/stages/1/processor/exec/0", "value": "sort"},
	])
	denied(inp, "GR001", "stage_sort")
}

test_gr001_message_names_paths if {
	inp := set("/host/resolved/stage_sort", "/usr/bin/sort")
	some v in deny_of(inp)
	v.rule == "GR001"
	contains(v.msg, `"/usr/bin/sort"`)
	contains(v.msg, "allowed_outside_paths")
}

# --- GR001: the "#!" interpreters of an exec script ------------------------

python := {"script": "/ws/tools/sort.sh", "line": "/usr/bin/python3 -u", "path": "/usr/bin/python3", "real": "/usr/bin/python3.11"}

test_gr001_interpreter_outside if {
	inp := set("/host/interpreters", {"stage_sort": [python]})
	some v in deny_of(inp)
	v.rule == "GR001"
	v.stage == "stage_sort"
	v.msg == `the interpreter "/usr/bin/python3" that "#!/usr/bin/python3 -u" in the script "tools/sort.sh" names (processor.exec[0] "tools/sort.sh") resolves to "/usr/bin/python3.11", outside the workspace "/ws"; copy it into the workspace, or allow "/usr/bin/python3.11" in data.guardrun.config.allowed_outside_paths`
}

test_gr001_interpreter_allowed_passes if {
	inp := set("/host/interpreters", {"stage_sort": [python]})
	not "GR001" in denied_rules(inp) with data.guardrun.config.allowed_outside_paths as {"/usr/bin/python3.11"}
}

test_gr001_interpreter_allow_names_the_real_path if {
	inp := set("/host/interpreters", {"stage_sort": [python]})
	denied(inp, "GR001", "stage_sort") with data.guardrun.config.allowed_outside_paths as {"/usr/bin/python3"}
}

test_gr001_interpreter_inside_passes if {
	inp := set("/host/interpreters", {"stage_sort": [object.union(python, {"path": "/ws/bin/py", "real": "/ws/bin/py"})]})
	not "GR001" in denied_rules(inp)
}

test_gr001_interpreter_chain_judged_whole if {
	inside := object.union(python, {"path": "/ws/bin/wrap", "real": "/ws/bin/wrap", "line": "/ws/bin/wrap"})
	outer := object.union(python, {"script": "/ws/bin/wrap", "line": "/usr/bin/perl", "path": "/usr/bin/perl", "real": "/usr/bin/perl"})
	inp := set("/host/interpreters", {"stage_sort": [inside, outer]})
	some v in deny_of(inp)
	v.rule == "GR001"
	contains(v.msg, `the interpreter "/usr/bin/perl" that "#!/usr/bin/perl" in the script "bin/wrap" names`)
}

test_gr001_interpreter_unresolved_is_not_judged if {
	inp := set("/host/interpreters", {"stage_sort": [object.union(python, {"real": ""})]})
	not "GR001" in denied_rules(inp)
}

test_gr001_interpreter_and_processor_both_reported if {
	inp := patched([
		{"op": "add", "path": "/host/resolved/stage_sort", "value": "/opt/tools/sort.sh"},
		{"op": "add", "path": "/host/interpreters", "value": {"stage_sort": [python]}},
	])
	count([v | some v in deny_of(inp); v.rule == "GR001"; v.stage == "stage_sort"]) == 2
}

# --- GR002: inputs inside the workspace --------------------------------------

test_gr002_absolute_input if {
	denied(set("/pipeline/stages/0/inputs/-", "/etc/passwd"), "GR002", "stage_copy")
}

test_gr002_climbing_input if {
	denied(set("/pipeline/stages/1/inputs/0", "../secrets/x.txt"), "GR002", "stage_sort")
}

test_gr002_windows_drive_input if {
	denied(set("/pipeline/stages/0/inputs/0", `D:\corpus\a.txt`), "GR002", "stage_copy")
}

test_gr002_absolute_inside_passes if {
	not "GR002" in denied_rules(set("/pipeline/stages/0/inputs/0", "/ws/data/input/sample.txt"))
}

test_gr002_allowed_glob_passes if {
	inp := set("/pipeline/stages/0/inputs/0", "/srv/corpus/2024/a.txt")
	not "GR002" in denied_rules(inp) with data.guardrun.config.allowed_outside_paths as {"/srv/corpus/**"}
}

test_gr002_allow_list_is_specific if {
	inp := set("/pipeline/stages/0/inputs/0", "/srv/other/a.txt")
	denied(inp, "GR002", "stage_copy") with data.guardrun.config.allowed_outside_paths as {"/srv/corpus/**"}
}

test_gr002_null_inputs_pass if {
	not "GR002" in denied_rules(set("/pipeline/stages/0/inputs", null))
}

test_gr001_go_symlink_outside if {
	inp := set("/host/resolved/stage_copy", "/opt/elsewhere/copy")
	some v in deny_of(inp)
	v.rule == "GR001"
	v.stage == "stage_copy"
	contains(v.msg, `processor.go "processors/copy" resolves to "/opt/elsewhere/copy"`)
}

test_gr001_go_reported_once if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/stages/0/processor/go", "value": "/opt/elsewhere/copy"},
		{"op": "add", "path": "/host/resolved/stage_copy", "value": "/opt/elsewhere/copy"},
	])
	count([v | some v in deny_of(inp); v.rule == "GR001"]) == 1
}

test_gr001_go_resolved_inside_passes if {
	not "GR001" in denied_rules(set("/host/resolved/stage_copy", "/ws/processors/copy"))
}

test_gr002_symlink_to_outside if {
	inp := set("/host/realInputs", {"stage_copy": ["/etc/shadow"]})
	some v in deny_of(inp)
	v.rule == "GR002"
	v.stage == "stage_copy"
	contains(v.msg, `is a symlink to "/etc/shadow"`)
}

test_gr002_symlink_inside_passes if {
	inp := set("/host/realInputs", {"stage_copy": ["/ws/data/real.txt"], "stage_sort": [""]})
	not "GR002" in denied_rules(inp)
}
