# GR101 - GR108: warnings. Shown by `guardrun check` and `run`; they fail
# only with --strict.
package guardrun.pipeline

import data.guardrun.config

input_bytes(s) := input.host.inputBytes[s.name]

# GR101: checkpoints off on a stage over large (or unmeasured) inputs.
warn contains finding("GR101", s.name, msg) if {
	some s in stages
	object.get(s, ["checkpoint", "enabled"], true) == false
	n := input_bytes(s)
	n >= config.advice.largeInputBytes
	msg := sprintf("checkpoint is disabled while the inputs hold %v bytes; a crash or kill reruns the whole stage: enable checkpoint", [n])
}

warn contains finding("GR101", s.name, msg) if {
	some s in stages
	object.get(s, ["checkpoint", "enabled"], true) == false
	not input_bytes(s)
	msg := "checkpoint is disabled; a crash or kill reruns the whole stage from the start: enable checkpoint unless the stage is short"
}

# GR102: idempotency off: the stage reruns on every run.
warn contains finding("GR102", s.name, msg) if {
	some s in stages
	object.get(s, "idempotent", true) == false
	msg := "idempotency is disabled; the stage reruns on every run even when nothing changed"
}

# GR103: jitter outside 0..0.5.
warn contains finding("GR103", s.name, msg) if {
	some s in stages
	j := retry(s, "jitter")
	not in_range(j, 0, config.advice.maxJitter)
	msg := sprintf("retry.jitter is %v; between 0 and %v keeps retry delays predictable", [j, config.advice.maxJitter])
}

# GR104: multiplier that shrinks delays or explodes them.
warn contains finding("GR104", s.name, msg) if {
	some s in stages
	retry(s, "maxAttempts") > 1
	m := retry(s, "multiplier")
	not in_range(m, 1, config.advice.maxMultiplier)
	msg := sprintf("retry.multiplier is %v; between 1 and %v backs off without hammering or stalling", [m, config.advice.maxMultiplier])
}

# GR105: the worst case (every attempt times out, maximal delays) exceeds a day.
warn contains finding("GR105", s.name, msg) if {
	some s in stages
	object.get(s, ["retry", "retryOnTimeout"], false) == true
	attempts := retry(s, "maxAttempts")
	worst := (attempts * timeout_seconds(s)) + (((attempts - 1) * retry(s, "maxDelayMs")) / 1000)
	worst > config.advice.worstCaseSeconds
	msg := sprintf("with retryOnTimeout, %v attempts of up to %v s can take %v s (more than a day); lower maxAttempts or timeoutSeconds", [attempts, timeout_seconds(s), worst])
}

# GR106: base delay larger than the cap.
warn contains finding("GR106", s.name, msg) if {
	some s in stages
	retry(s, "baseDelayMs") > retry(s, "maxDelayMs")
	msg := sprintf("retry.baseDelayMs %v is larger than retry.maxDelayMs %v; every delay will be capped", [retry(s, "baseDelayMs"), retry(s, "maxDelayMs")])
}

# GR107: the run budget promises more cpus than the host has.
warn contains finding("GR107", "", msg) if {
	host_cpus > 0
	budget_cpus > host_cpus
	msg := sprintf("pipeline resources.cpus is %v but this host has %v cpus; stages will contend for them", [budget_cpus, host_cpus])
}

# GR108: checkpoints so frequent they cost throughput (0 = trigger unused).
warn contains finding("GR108", s.name, msg) if {
	some s in stages
	object.get(s, ["checkpoint", "enabled"], true) == true
	secs := object.get(s, ["checkpoint", "everySeconds"], 1)
	secs > 0
	secs < config.advice.minCheckpointSeconds
	msg := sprintf("checkpoint.everySeconds is %v; checkpointing more often than every %v s costs throughput", [secs, config.advice.minCheckpointSeconds])
}

warn contains finding("GR108", s.name, msg) if {
	some s in stages
	object.get(s, ["checkpoint", "enabled"], true) == true
	lines := object.get(s, ["checkpoint", "everyLines"], 100000)
	lines > 0
	lines < config.advice.minCheckpointLines
	msg := sprintf("checkpoint.everyLines is %v; checkpointing more often than every %v lines costs throughput", [lines, config.advice.minCheckpointLines])
}
