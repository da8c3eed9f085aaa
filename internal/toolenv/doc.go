// Package toolenv is the environment guardrun runs host-side tools with:
// `go build` of Go processors and guardrun-guard (whose go/packages runs
// `go list`, which compiles). These tools run unconfined, so nothing a
// processor could have written may steer them: the go command reads no
// configuration file (GOENV=off, so a planted $HOME/.config/go/env with
// GOFLAGS=-toolexec=... is never read), GOFLAGS is empty, the toolchain is
// the local one (GOTOOLCHAIN=local, never downloaded), modules come only
// from the module cache (GOPROXY=off, GOSUMDB=off), HOME is a directory
// of guardrun's own, and no other variable of guardrun's environment is
// inherited but PATH. GOCACHE, GOMODCACHE and GOPATH are guardrun's own,
// resolved once when guardrun starts (from its environment, or the go
// command's defaults), so the build cache stays warm. Its telemetry is
// off (TelemetryOff, a mode file in that home: the environment cannot
// turn it off), so that no detached telemetry child goes on writing into
// the home after guardrun has ended.
package toolenv
