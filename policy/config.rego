# Tunable data of guardrun's built-in policy.
#
# The set-valued entries (allowed_outside_paths, network_tools,
# proxy_variables) are partial sets: a module passed with --policy DIR that
# declares `package guardrun.config` can add to them, e.g.
#
#     package guardrun.config
#     allowed_outside_paths contains "/usr/bin/sort"
#
# The numeric limits are complete values: they cannot be redefined, only made
# stricter by a user deny rule.
package guardrun.config

# allowed_outside_paths: paths outside the workspace that processors (go
# dir, exec argv[0] or what it resolves to) and inputs may name. Each entry
# is a glob matched with "/" as the separator ("/usr/bin/sort",
# "/usr/bin/*", "/srv/corpus/**").
#
# Empty by default, nothing outside the workspace is allowed, so it is not
# defined here: the policy reads data.guardrun.config.allowed_outside_paths,
# which is undefined (no path allowed) until a module adds to it. (Defining
# it as `some x in set()` would iterate an empty set, which the type checker
# of OPA before v1.22, conftest's included, refuses.)

# Programs that exist to move data over the network; denied wherever they
# appear in a stage's argv (compared by basename, case-insensitive, ".exe"
# stripped).
network_tools contains x if {
	some x in {
		"curl", "wget", "nc", "ncat", "netcat", "nc.openbsd", "nc.traditional",
		"ssh", "scp", "sftp", "rsync", "ftp", "lftp", "tftp", "telnet", "socat",
		"aria2c", "rclone", "s3cmd", "aws", "gcloud", "gsutil", "bq", "az",
		"azcopy", "kubectl", "oc", "ping", "dig", "nslookup",
	}
}

# Environment variables that point HTTP clients at a proxy (compared
# case-insensitively; any name ending in "_proxy" is treated the same).
proxy_variables contains x if {
	some x in {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"}
}

# guardrun's built-in per-stage defaults (pipeline/types.go), used when a
# value is missing from the input document.
builtin_defaults := {
	"cpus": 1,
	"memoryMB": 1024,
	"pids": 512,
	"timeoutSeconds": 3600,
	"maxAttempts": 3,
	"baseDelayMs": 100,
	"maxDelayMs": 5000,
	"multiplier": 2,
	"jitter": 0.2,
}

limits := {
	"maxAttempts": 10, # GR006
	"maxDelayMs": 600000, # GR007: 10 minutes
	"timeoutSeconds": 86400, # GR008: 24 hours
	"pids": 32768, # GR011
}

advice := {
	"largeInputBytes": 268435456, # GR101: 256 MiB
	"maxJitter": 0.5, # GR103
	"maxMultiplier": 10, # GR104
	"worstCaseSeconds": 86400, # GR105
	"minCheckpointSeconds": 0.1, # GR108
	"minCheckpointLines": 100, # GR108
}
