# GR006 - GR012: bounded retries, timeouts and resources.
package guardrun.pipeline

import data.guardrun.config

# GR006: retry.maxAttempts between 1 and 10.
deny contains finding("GR006", s.name, msg) if {
	some s in stages
	n := retry(s, "maxAttempts")
	not in_range(n, 1, config.limits.maxAttempts)
	msg := sprintf("retry.maxAttempts is %v; it must be between 1 and %d", [n, config.limits.maxAttempts])
}

# GR007: retry delays between 0 and 10 minutes.
deny contains finding("GR007", s.name, msg) if {
	some s in stages
	some key in ["baseDelayMs", "maxDelayMs"]
	n := retry(s, key)
	not in_range(n, 0, config.limits.maxDelayMs)
	msg := sprintf("retry.%s is %v; it must be between 0 and %d (10 minutes)", [key, n, config.limits.maxDelayMs])
}

# GR008: effective timeout between 1 second and 24 hours.
deny contains finding("GR008", s.name, msg) if {
	some s in stages
	n := timeout_seconds(s)
	not in_range(n, 1, config.limits.timeoutSeconds)
	msg := sprintf("timeoutSeconds is %v (its own, from defaults, or built-in); it must be between 1 and %d (24 hours)", [n, config.limits.timeoutSeconds])
}

# GR009: effective cpus positive and within the run budget.
deny contains finding("GR009", s.name, msg) if {
	some s in stages
	n := resource(s, "cpus")
	n <= 0
	msg := sprintf("resources.cpus is %v; it must be greater than 0", [n])
}

deny contains finding("GR009", s.name, msg) if {
	some s in stages
	n := resource(s, "cpus")
	budget_cpus > 0
	n > budget_cpus
	msg := sprintf("resources.cpus is %v, more than the run budget of %v cpus; lower it or raise resources.cpus of the pipeline", [n, budget_cpus])
}

# GR010: effective memoryMB positive, within the run budget and the host.
deny contains finding("GR010", s.name, msg) if {
	some s in stages
	n := resource(s, "memoryMB")
	n <= 0
	msg := sprintf("resources.memoryMB is %v; it must be greater than 0 (0 would mean no limit)", [n])
}

deny contains finding("GR010", s.name, msg) if {
	some s in stages
	n := resource(s, "memoryMB")
	budget_memory_mb > 0
	n > budget_memory_mb
	msg := sprintf("resources.memoryMB is %v, more than the run budget of %v MB; lower it or raise resources.memoryMB of the pipeline", [n, budget_memory_mb])
}

deny contains finding("GR010", s.name, msg) if {
	some s in stages
	n := resource(s, "memoryMB")
	host_memory_mb > 0
	n > host_memory_mb
	msg := sprintf("resources.memoryMB is %v, more than this host's %v MB of memory", [n, host_memory_mb])
}

# GR011: effective pids between 1 and 32768.
deny contains finding("GR011", s.name, msg) if {
	some s in stages
	n := resource(s, "pids")
	not in_range(n, 1, config.limits.pids)
	msg := sprintf("resources.pids is %v; it must be between 1 and %d (0 would mean no limit)", [n, config.limits.pids])
}

# GR012: the run budget itself is positive and fits the host's memory.
deny contains finding("GR012", "", msg) if {
	some key in ["cpus", "memoryMB", "ioConcurrency"]
	n := budget[key]
	n <= 0
	msg := sprintf("pipeline resources.%s is %v; it must be greater than 0", [key, n])
}

deny contains finding("GR012", "", msg) if {
	host_memory_mb > 0
	budget_memory_mb > host_memory_mb
	msg := sprintf("pipeline resources.memoryMB is %v, more than this host's %v MB of memory", [budget_memory_mb, host_memory_mb])
}

in_range(n, lo, hi) if {
	is_number(n)
	n >= lo
	n <= hi
}
