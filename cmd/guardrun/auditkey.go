package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/guardrun/guardrun/audit"
)

// auditKeyFlags are --audit-key FILE and --audit-key-fd N (run, verify).
// A key given on a descriptor keeps its path off guardrun's command line
// and environment, where processors could read it.
type auditKeyFlags struct {
	path string
	fd   int
}

func (k *auditKeyFlags) register(fs *flag.FlagSet, what string) {
	fs.StringVar(&k.path, "audit-key", os.Getenv("GUARDRUN_AUDIT_KEY_FILE"),
		what+" (env GUARDRUN_AUDIT_KEY_FILE); refused when its group or others can read or write it")
	fs.IntVar(&k.fd, "audit-key-fd", -1,
		"read the audit key from this inherited file descriptor instead, e.g. '--audit-key-fd 3 3<audit.key' (closed once read; the file's mode is not checked)")
}

// load reads the key (nil when none is configured) and returns the key
// file's absolute path ("" when the key came on a descriptor). --audit-key-fd
// wins over GUARDRUN_AUDIT_KEY_FILE; given with --audit-key it is a usage
// error.
func (k *auditKeyFlags) load(fs *flag.FlagSet) ([]byte, string, error) {
	if k.fd >= 0 {
		explicit := false
		fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "audit-key" })
		if explicit {
			return nil, "", &usageError{msg: "--audit-key and --audit-key-fd are exclusive: give the key one way"}
		}
		key, err := audit.LoadKeyFD(k.fd)
		return key, "", err
	}
	if fs.Lookup("audit-key-fd") != nil {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "audit-key-fd" })
		if set {
			return nil, "", &usageError{msg: fmt.Sprintf("--audit-key-fd %d: not a file descriptor", k.fd)}
		}
	}
	if k.path == "" {
		return nil, "", nil
	}
	key, err := audit.LoadKey(k.path)
	if err != nil {
		return nil, "", err
	}
	abs, err := filepath.Abs(k.path)
	if err != nil {
		return nil, "", fmt.Errorf("resolving the audit key path: %w", err)
	}
	return key, abs, nil
}
