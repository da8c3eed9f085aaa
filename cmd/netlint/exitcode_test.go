package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/analyzers/suite"
)

// Every error of run maps to its exit code in exitCode, and report prints
// each message once: what the flag package or the JSON document already
// said is not repeated.
func TestExitCodeAndReport(t *testing.T) {
	cases := []struct {
		name       string
		args       []string
		err        error // used instead of running when args is nil
		wantCode   int
		wantStderr string // the line report prints; "" for none
		wantAs     any
	}{
		{name: "help", args: []string{"-h"}, wantCode: exitClean},
		{name: "bad flag", args: []string{"-nosuchflag"}, wantCode: exitUsage, wantAs: new(*usageError)},
		{name: "bad -C", args: []string{"-C", filepath.Join(t.TempDir(), "missing")}, wantCode: exitUsage,
			wantStderr: "netlint: chdir ", wantAs: new(*usageError)},
		{name: "package does not load", args: []string{"./nosuchpackage"}, wantCode: exitError,
			wantStderr: "netlint load: ", wantAs: new(*suite.Error)},
		{name: "findings", err: &findingsError{count: 2}, wantCode: exitFindings,
			wantStderr: "netlint: 2 finding(s); suppress one only with //netlint:allow <reason>\n"},
		{name: "findings as json", err: &findingsError{count: 2, json: true}, wantCode: exitFindings},
		{name: "wrapped findings", err: fmt.Errorf("x: %w", &findingsError{count: 1}), wantCode: exitFindings,
			wantStderr: "x: netlint: 1 finding(s)"},
		{name: "other", err: errors.New("write /dev/stdout: broken pipe"), wantCode: exitError,
			wantStderr: "write /dev/stdout: broken pipe\n"},
		{name: "nil", err: nil, wantCode: exitClean},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err
			if tc.args != nil {
				var stdout, flagOut bytes.Buffer
				err = run(t.Context(), tc.args, &stdout, &flagOut)
			}
			if tc.wantAs != nil {
				require.ErrorAs(t, err, tc.wantAs)
			}
			assert.Equal(t, tc.wantCode, exitCode(err))
			var stderr bytes.Buffer
			report(&stderr, err)
			if tc.wantStderr == "" {
				assert.Empty(t, stderr.String())
			} else {
				assert.Contains(t, stderr.String(), tc.wantStderr)
			}
		})
	}
}
