// Package sandbox owns process confinement. Start runs one processor attempt
// with its argv, environment, working directory, extra files and limits, and
// Wait reports how it ended (exit code, signal, memory kill, CPU time, peak
// memory). Where and how limits are enforced depends on the host: network and
// cgroups on Linux, job objects on Windows, rlimits elsewhere; Report says
// exactly what this host enforces. The whole process tree of an attempt is
// killed when the attempt is cancelled and when guardrun itself dies.
package sandbox
