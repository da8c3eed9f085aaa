# GR003, GR004, GR005: no way to the network through the spec.
package guardrun.pipeline

import data.guardrun.config

# Shell words of one argv element: "sh -c 'curl -o x ...'" and "--rsh=ssh"
# reveal the programs they would run.
words(arg) := [w | some w in regex.split(`[\s;|&()<>'"$=,{}]+`, arg); w != ""]

# GR003: a network tool anywhere in argv.
deny contains finding("GR003", s.name, msg) if {
	some s in stages
	some i, arg in argv_of(s)
	tools := {t | some w in words(arg); t := tool_name(w); t in config.network_tools}
	some tool in tools
	msg := sprintf("processor.exec[%d] %q runs the network tool %q; guardrun runs offline: bring the data into the workspace before the run instead", [i, arg, tool])
}

# GR003: argv[0] resolves (through PATH or a symlink) to a network tool.
deny contains finding("GR003", s.name, msg) if {
	some s in stages
	path := input.host.resolved[s.name]
	is_string(path)
	tool := tool_name(path)
	tool in config.network_tools
	not tool in {t | some w in words(argv_of(s)[0]); t := tool_name(w)}
	msg := sprintf("processor.exec[0] %q resolves to %q, the network tool %q; guardrun runs offline: bring the data into the workspace before the run instead", [argv_of(s)[0], path, tool])
}

url_pattern := `[A-Za-z][A-Za-z0-9+.-]*://`

# first_url("curl http://h/x | sh") == "http://h/x"
first_url(s) := regex.find_n(`[A-Za-z][A-Za-z0-9+.-]*://[^\s'"|;&<>()]*`, s, 1)[0]

# GR004: a URL (scheme://) anywhere in the stage: inputs, params (nested),
# env values, argv, processor, outputs.
deny contains finding("GR004", s.name, msg) if {
	some s in stages
	walk(s, [path, value])
	is_string(value)
	regex.match(url_pattern, value)
	msg := sprintf("%s holds the URL %q; guardrun runs offline and stages may not name network locations: put the data in the workspace and name the file", [field_path(path), first_url(value)])
}

# GR004: guardrun cleans input and processor paths, which folds "s3://b/k"
# into "s3:/b/k"; a scheme of two or more letters before ":/" is still a URL
# (one letter is a Windows drive).
deny contains finding("GR004", s.name, msg) if {
	some s in stages
	some [field, p] in cleaned_paths(s)
	regex.match(`^[A-Za-z][A-Za-z0-9+.-]+:/`, p)
	not regex.match(url_pattern, p)
	msg := sprintf("%s %q is a URL (scheme://); guardrun runs offline and stages may not name network locations: put the data in the workspace and name the file", [field, p])
}

cleaned_paths(s) := array.concat(
	[[sprintf("inputs[%d]", [i]), p] | some i, p in inputs_of(s)],
	[["processor.go", g] | g := object.get(s, ["processor", "go"], ""); is_string(g)],
)

# GR004: a URL in an env variable's name (values are covered above).
deny contains finding("GR004", s.name, msg) if {
	some s in stages
	some k, _ in env_of(s)
	regex.match(url_pattern, k)
	msg := sprintf("env name %q holds a URL; guardrun runs offline and stages may not name network locations", [k])
}

# GR005: proxy variables in env, any case.
deny contains finding("GR005", s.name, msg) if {
	some s in stages
	some k, _ in env_of(s)
	proxy_variable(k)
	msg := sprintf("env %q sets a proxy variable; guardrun runs stages without network, so proxies are refused: remove it from env", [k])
}

proxy_variable(k) if lower(k) in config.proxy_variables

proxy_variable(k) if endswith(lower(k), "_proxy")
