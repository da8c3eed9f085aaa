package toolenv

import (
	"fmt"
	"go/build"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/guardrun/guardrun/internal/atomicfile"
)

// start is guardrun's environment when it started.
var start = resolve(os.Environ())

type resolved struct {
	vars map[string]string // the variables kept as they are
	env  map[string]string // guardrun's whole environment, for Keep
}

// keep are the variables of guardrun's environment passed on as they are.
var keep = []string{"PATH", "GOROOT", "GOCACHE", "GOMODCACHE", "GOPATH", "CGO_ENABLED"}

// keepWindows are what programs need to run at all on Windows.
var keepWindows = []string{"SYSTEMROOT", "WINDIR", "TEMP", "TMP", "PATHEXT", "COMSPEC", "LOCALAPPDATA", "APPDATA", "USERPROFILE"}

func resolve(environ []string) resolved {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if runtime.GOOS == "windows" {
				k = strings.ToUpper(k)
			}
			env[k] = v
		}
	}
	r := resolved{vars: map[string]string{}, env: env}
	names := keep
	if runtime.GOOS == "windows" {
		names = append(append([]string{}, keep...), keepWindows...)
	}
	for _, k := range names {
		if v, ok := env[k]; ok && v != "" {
			r.vars[k] = v
		}
	}
	// The go command's defaults, resolved now (its config file is not
	// read, here or later).
	if r.vars["GOPATH"] == "" && build.Default.GOPATH != "" {
		r.vars["GOPATH"] = build.Default.GOPATH
	}
	if r.vars["GOMODCACHE"] == "" && r.vars["GOPATH"] != "" {
		first := filepath.SplitList(r.vars["GOPATH"])[0]
		r.vars["GOMODCACHE"] = filepath.Join(first, "pkg", "mod")
	}
	if r.vars["GOCACHE"] == "" {
		if d, err := os.UserCacheDir(); err == nil {
			r.vars["GOCACHE"] = filepath.Join(d, "go-build")
		}
	}
	if r.vars["CGO_ENABLED"] == "" {
		r.vars["CGO_ENABLED"] = "0"
	}
	return r
}

// Go is the environment of the go command: fixed, with HOME set to home
// (a directory of guardrun's own), plus the variables named in extra when
// guardrun's environment has them.
func Go(home string, extra ...string) []string { return start.goEnv(home, extra) }

func (r resolved) goEnv(home string, extra []string) []string {
	env := []string{
		"GOENV=off",
		"GOFLAGS=",
		"GOTOOLCHAIN=local",
		"GOPROXY=off",
		"GOSUMDB=off",
		"GOWORK=off",
		"GOOS=" + build.Default.GOOS,
		"GOARCH=" + build.Default.GOARCH,
		"HOME=" + home,
	}
	if runtime.GOOS == "windows" {
		env = append(env, "USERPROFILE="+home, "APPDATA="+ConfigDir(home))
	} else {
		env = append(env, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	}
	names := keep
	if runtime.GOOS == "windows" {
		names = append(append([]string{}, keep...), keepWindows...)
	}
	for _, k := range names {
		if runtime.GOOS == "windows" && (k == "USERPROFILE" || k == "APPDATA") {
			continue
		}
		if v, ok := r.vars[k]; ok {
			env = append(env, k+"="+v)
		}
	}
	for _, k := range extra {
		if v, ok := r.env[k]; ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// ConfigDir is os.UserConfigDir for the go command run with Go(home).
func ConfigDir(home string) string {
	switch runtime.GOOS {
	case "windows":
		return filepath.Join(home, "AppData")
	case "darwin", "ios":
		return filepath.Join(home, "Library", "Application Support")
	case "plan9":
		return filepath.Join(home, "lib")
	}
	return filepath.Join(home, ".config")
}

// TelemetryOff sets the go command's telemetry mode to off under home
// (its only switch is a file in its config dir: the environment cannot
// set it). With telemetry on or local, the go command writes counters
// there and starts a detached child that goes on writing after guardrun
// has ended, into stateDir or into a temporary home being removed.
func TelemetryOff(home string) error {
	dir := filepath.Join(ConfigDir(home), "go", "telemetry")
	mode := filepath.Join(dir, "mode")
	if b, err := os.ReadFile(mode); err == nil && strings.TrimSpace(string(b)) == "off" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("turning go telemetry off: %w", err)
	}
	if err := atomicfile.WriteFile(mode, []byte("off\n"), 0o644); err != nil {
		return fmt.Errorf("turning go telemetry off: %w", err)
	}
	return nil
}

// GoCache is the build cache Go gives the go command (GOCACHE as
// guardrun's environment or the go command's default had it at start).
func GoCache() string { return start.vars["GOCACHE"] }
