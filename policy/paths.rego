# GR001, GR002: processors and inputs stay inside the workspace.
package guardrun.pipeline

# GR001: a go processor package outside the workspace.
deny contains finding("GR001", s.name, msg) if {
	some s in stages
	dir := object.get(s, ["processor", "go"], "")
	dir != ""
	outside(dir)
	not allowed_outside(dir)
	msg := sprintf("processor.go %q is outside the workspace %q; move the package into the workspace, or allow the path in data.guardrun.config.allowed_outside_paths", [dir, workspace])
}

# GR001: a program the stage runs resolves (through PATH, a symlink or a
# script's "#!" line) to a program or package outside the workspace: the
# processor itself, and every interpreter of an exec script.
deny contains finding("GR001", p.stage, msg) if {
	some p in programs
	outside(p.path)
	not allowed_outside(p.path)
	msg := sprintf("%s resolves to %q, outside the workspace %q; copy it into the workspace, or allow %q in data.guardrun.config.allowed_outside_paths", [p.label, p.path, workspace, p.path])
}

# programs: what each stage runs, as resolved on the host, and how to name
# it. host.resolved holds the processor (exec argv[0] or the go package);
# host.interpreters the "#!" interpreters of an exec script (the script's
# own first, then that interpreter's when it is a script too).
programs contains {"stage": s.name, "path": path, "label": processor_label(s)} if {
	some s in stages
	path := input.host.resolved[s.name]
	is_string(path)
	not lexically_outside_go(s)
}

programs contains {"stage": s.name, "path": it.real, "label": interpreter_label(s, it)} if {
	some s in stages
	some it in as_array(object.get(host, ["interpreters", s.name], []))
	is_string(it.real)
	it.real != ""
}

lexically_outside_go(s) if outside(object.get(s, ["processor", "go"], ""))

interpreter_label(s, it) := sprintf("the interpreter %q that \"#!%s\" in the script %q names (processor.exec[0] %q)", [object.get(it, "path", ""), object.get(it, "line", ""), shown(object.get(it, "script", "")), argv_of(s)[0]])

# shown(p): p relative to the workspace when it lies inside it.
shown(p) := trim_prefix(slash(p), concat("", [workspace, "/"])) if under_workspace(p)

shown(p) := slash(p) if not under_workspace(p)

processor_label(s) := sprintf("processor.exec[0] %q", [argv_of(s)[0]]) if count(argv_of(s)) > 0

processor_label(s) := sprintf("processor.go %q", [s.processor.go]) if count(argv_of(s)) == 0

# GR001: exec argv[0] names an outside path and was not resolved.
deny contains finding("GR001", s.name, msg) if {
	some s in stages
	not input.host.resolved[s.name]
	argv0 := argv_of(s)[0]
	contains(slash(argv0), "/")
	outside(argv0)
	not allowed_outside(argv0)
	msg := sprintf("processor.exec[0] %q is outside the workspace %q; copy the program into the workspace, or allow the path in data.guardrun.config.allowed_outside_paths", [argv0, workspace])
}

# GR001: a bare program name would be looked up on PATH, outside the
# workspace, and guardrun could not say where it lives.
deny contains finding("GR001", s.name, msg) if {
	some s in stages
	not input.host.resolved[s.name]
	argv0 := argv_of(s)[0]
	not contains(slash(argv0), "/")
	not allowed_outside(argv0)
	msg := sprintf("processor.exec[0] %q is not in the workspace and would be looked up on PATH; name it by its absolute path and allow that path in data.guardrun.config.allowed_outside_paths, or copy it into the workspace", [argv0])
}

# GR002: an input outside the workspace.
deny contains finding("GR002", s.name, msg) if {
	some s in stages
	some i, p in inputs_of(s)
	outside(p)
	not allowed_outside(p)
	msg := sprintf("inputs[%d] %q is outside the workspace %q; copy the data into the workspace, or allow the path in data.guardrun.config.allowed_outside_paths", [i, p, workspace])
}

# GR002: an input inside the workspace by name that is a symlink to a place
# outside it (host.realInputs holds each input's symlink-free path).
deny contains finding("GR002", s.name, msg) if {
	some s in stages
	some i, p in inputs_of(s)
	not outside(p)
	real := input.host.realInputs[s.name][i]
	is_string(real)
	real != ""
	outside(real)
	not allowed_outside(real)
	msg := sprintf("inputs[%d] %q is a symlink to %q, outside the workspace %q; copy the data into the workspace, or allow the path in data.guardrun.config.allowed_outside_paths", [i, p, real, workspace])
}
