package preflight

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/pipeline"
)

func TestCheckRunnable(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("x permission")
	}
	tests := []struct {
		name   string
		stages string
		want   []string // problems, in order; none: runnable
	}{
		{"inputs that exist or are produced",
			`{"name":"a","processor":{"exec":["bin/tool"]},"inputs":["in/a.txt"],"outputDir":"w/a","outputs":["x.txt"]},
			 {"name":"b","processor":{"exec":["bin/tool"]},"inputs":["w/a/x.txt"],"outputDir":"w/b"},
			 {"name":"c","processor":{"exec":["bin/tool"]},"inputs":["w/b/anything/deep.txt","w"],"outputDir":"w/c","outputs":["y"]},
			 {"name":"d","foreach":{"glob":"in/*.txt"},"processor":{"exec":["bin/tool"]},"inputs":["{path}","in/a.txt"],"outputDir":"w/d","outputs":["{name}"]},
			 {"name":"e","processor":{"exec":["bin/tool"]},"inputs":["w/d/a.txt"],"outputDir":"w/e","outputs":["z"]}`,
			nil},
		{"a missing input no stage produces, absolute or not",
			`{"name":"a","processor":{"exec":["bin/tool"]},"inputs":["in/a.txt","in/nope.txt","/nonexistent/x.csv"],"outputDir":"w/a","outputs":["x"]},
			 {"name":"b","processor":{"exec":["bin/tool"]},"inputs":["w/a/other.txt"],"outputDir":"w/b","outputs":["y"]}`,
			[]string{`stages[0].inputs[1]: "in/nope.txt" does not exist and no stage produces it`,
				`stages[0].inputs[2]: "/nonexistent/x.csv" does not exist and no stage produces it`,
				`stages[1].inputs[0]: "w/a/other.txt" does not exist and no stage produces it`}},
		{"programs not found, not executable, a directory; one a stage builds",
			`{"name":"a","processor":{"exec":["no-such-program-guardrun-test"]},"outputDir":"w/a"},
			 {"name":"b","processor":{"exec":["bin/plain.sh"]},"outputDir":"w/b"},
			 {"name":"c","processor":{"exec":["./bin"]},"outputDir":"w/c"},
			 {"name":"d","processor":{"exec":["w/built/tool"]},"outputDir":"w/d","dependsOn":["build"]},
			 {"name":"build","processor":{"exec":["bin/tool"]},"outputDir":"w/built","outputs":["tool"]}`,
			[]string{`stages[0].processor.exec[0]: "no-such-program-guardrun-test": not found in the workspace or on PATH`,
				`stages[1].processor.exec[0]: "bin/plain.sh": is not executable (no x permission)`,
				`stages[2].processor.exec[0]: "./bin": is a directory, not a program`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, mode := range map[string]os.FileMode{"bin/tool": 0o755, "bin/plain.sh": 0o644, "in/a.txt": 0o644} {
				require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode))
			}
			spec := `{"version":1,"name":"r","stages":[` + tt.stages + `]}`
			require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec), 0o644))
			p, err := pipeline.Load(filepath.Join(dir, "pipeline.json"), pipeline.LoadOptions{})
			require.NoError(t, err)
			err = CheckRunnable(p)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, pipeline.ErrInvalidSpec, "an invalid spec: exit 2")
			var got []string
			for _, pr := range pipeline.Problems(err) {
				got = append(got, strings.TrimPrefix(pr.Error(), "pipeline.json: "))
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
