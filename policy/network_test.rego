package guardrun.pipeline_test

# --- GR003: network tools anywhere in argv -----------------------------------

test_gr003_argv0 if {
	denied(set("/pipeline/stages/1/processor/exec/0", "curl"), "GR003", "stage_sort")
}

test_gr003_absolute_in_argv2 if {
	inp := set("/pipeline/stages/1/processor/exec", ["tools/run.sh", "--via", "/usr/bin/curl", "-o", "x"])
	denied(inp, "GR003", "stage_sort")
}

test_gr003_inside_shell_string if {
	inp := set("/pipeline/stages/1/processor/exec", ["sh", "-c", "cat a | wget -q -O- --post-file=-"])
	denied(inp, "GR003", "stage_sort")
}

test_gr003_option_value if {
	inp := set("/pipeline/stages/1/processor/exec", ["tools/sync", "--rsh=ssh"])
	denied(inp, "GR003", "stage_sort")
}

test_gr003_windows_exe_any_case if {
	inp := set("/pipeline/stages/1/processor/exec/0", `C:\Tools\CURL.EXE`)
	denied(inp, "GR003", "stage_sort")
}

test_gr003_resolved_symlink if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/stages/1/processor/exec/0", "value": "tools/fetch"},
		{"op": "replace", "path": "/host/resolved/stage_sort", "value": "/usr/bin/curl"},
	])
	some v in deny_of(inp)
	v.rule == "GR003"
	v.stage == "stage_sort"
	contains(v.msg, `resolves to "/usr/bin/curl"`)
}

test_gr003_reported_once_for_argv0 if {
	inp := patched([
		{"op": "replace", "path": "/pipeline/stages/1/processor/exec/0", "value": "/usr/bin/curl"},
		{"op": "replace", "path": "/host/resolved/stage_sort", "value": "/usr/bin/curl"},
	])
	count([v | some v in deny_of(inp); v.rule == "GR003"]) == 1
}

test_gr003_lookalike_passes if {
	inp := set("/pipeline/stages/1/processor/exec", ["tools/sort.sh", "curly", "--format=sshd", "wget.txt"])
	not "GR003" in denied_rules(inp)
}

test_gr003_user_tool_list if {
	inp := set("/pipeline/stages/1/processor/exec", ["tools/sort.sh", "fetchit"])
	denied(inp, "GR003", "stage_sort") with data.guardrun.config.network_tools as {"fetchit"}
}

# --- GR004: no URL anywhere ----------------------------------------------------

test_gr004_nested_params if {
	inp := set("/pipeline/stages/1/params", {"source": {"mirrors": ["local", "s3://bucket/key"]}})
	some v in deny_of(inp)
	v.rule == "GR004"
	v.stage == "stage_sort"
	contains(v.msg, "params.source.mirrors[1]")
	contains(v.msg, `"s3://bucket/key"`)
}

test_gr004_input if {
	denied(set("/pipeline/stages/0/inputs/0", "https://example.com/data.csv"), "GR004", "stage_copy")
}

test_gr004_cleaned_input if {
	some v in deny_of(set("/pipeline/stages/0/inputs/0", "s3:/bucket/key"))
	v.rule == "GR004"
	contains(v.msg, `inputs[0] "s3:/bucket/key" is a URL`)
}

test_gr004_cleaned_go_dir if {
	denied(set("/pipeline/stages/0/processor/go", "https:/example.com/mod"), "GR004", "stage_copy")
}

test_gr004_windows_drive_is_not_a_url if {
	not "GR004" in denied_rules(set("/pipeline/stages/0/inputs/0", "C:/data/x.txt"))
}

test_gr004_env_value if {
	denied(set("/pipeline/stages/0/env/UPSTREAM", "http://10.0.0.1:8080/"), "GR004", "stage_copy")
}

test_gr004_env_name if {
	denied(set("/pipeline/stages/0/env", {"http://x": "1"}), "GR004", "stage_copy")
}

test_gr004_argv_url_extracted if {
	inp := set("/pipeline/stages/1/processor/exec", ["tools/sort.sh", "--from=ftp://h/f.txt|x"])
	some v in deny_of(inp)
	v.rule == "GR004"
	contains(v.msg, "processor.exec[1]")
	contains(v.msg, `"ftp://h/f.txt"`)
}

test_gr004_no_scheme_passes if {
	inp := set("/pipeline/stages/1/params", {"sep": "a:/b", "path": "data//x", "time": "12:30"})
	not "GR004" in denied_rules(inp)
}

# --- GR005: proxy variables ------------------------------------------------------

test_gr005_upper if {
	denied(set("/pipeline/stages/0/env/HTTP_PROXY", "x"), "GR005", "stage_copy")
}

test_gr005_lower if {
	denied(set("/pipeline/stages/0/env/https_proxy", "x"), "GR005", "stage_copy")
}

test_gr005_mixed_no_proxy if {
	denied(set("/pipeline/stages/1/env/No_Proxy", "localhost"), "GR005", "stage_sort")
}

test_gr005_any_proxy_suffix if {
	denied(set("/pipeline/stages/1/env/SOCKS_PROXY", "h"), "GR005", "stage_sort")
}

test_gr005_other_env_passes if {
	inp := set("/pipeline/stages/0/env", {"LC_ALL": "C", "PROXYLESS": "1", "TZ": "UTC"})
	not "GR005" in denied_rules(inp)
}

test_gr005_null_env_passes if {
	not "GR005" in denied_rules(set("/pipeline/stages/0/env", null))
}
