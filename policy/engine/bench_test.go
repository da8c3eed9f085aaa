package engine

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
)

// Goal (issue 5): prepare + evaluate under 20 ms for the demo spec. New is
// paid once per process; Evaluate once per check/run.

func demoPipeline(b *testing.B) *pipeline.Pipeline {
	b.Helper()
	p, err := pipeline.Load(filepath.Join("..", "..", "pipeline.json"), loadOpts)
	require.NoError(b, err)
	return p
}

func BenchmarkNew(b *testing.B) {
	ctx := context.Background()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := New(ctx, policy.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU adds a cpu-ms/op metric (user+system time of the process per
// iteration); call as defer reportCPU(b)() right before the loop.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		b.ReportMetric(float64(processCPU()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

func BenchmarkEvaluateDemo(b *testing.B) {
	ctx := context.Background()
	p := demoPipeline(b)
	e := newEngine(b, policy.Options{})
	host := testHost
	defer reportCPU(b)()
	for b.Loop() {
		res, err := e.Evaluate(ctx, p, host)
		if err != nil || res.Failed(true) {
			b.Fatal(err, res)
		}
	}
}

// BenchmarkNewAndEvaluateDemo is what one `guardrun check` pays.
func BenchmarkNewAndEvaluateDemo(b *testing.B) {
	ctx := context.Background()
	p := demoPipeline(b)
	host := testHost
	defer reportCPU(b)()
	for b.Loop() {
		e, err := New(ctx, policy.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Evaluate(ctx, p, host); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFingerprintDemo is what a no-op rerun pays instead of New +
// Evaluate when the caller caches a passing verdict by fingerprint.
func BenchmarkFingerprintDemo(b *testing.B) {
	p := demoPipeline(b)
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := policy.Fingerprint(policy.Options{}, p, testHost); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSchemaTypeCheck isolates what the input schema adds to New:
// OPA compiles the JSON schema into a type (every compilation) and the
// type checker follows input references through it. A one-rule module is
// compiled with and without the schema; the difference is the schema's
// share of New.
func BenchmarkSchemaTypeCheck(b *testing.B) {
	ss, err := inputSchemas()
	require.NoError(b, err)
	m, err := parse("p.rego", "package p\n\nx contains s.name if {\n\tsome s in input.pipeline.stages\n\ts.resources.memoryMB > 1\n}\n")
	require.NoError(b, err)
	for _, tc := range []struct {
		name string
		ss   *ast.SchemaSet
	}{{"without", nil}, {"with", ss}} {
		b.Run(tc.name, func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				c := ast.NewCompiler().WithCapabilities(Capabilities()).WithSchemas(tc.ss)
				c.Compile(map[string]*ast.Module{"p.rego": m})
				if c.Failed() {
					b.Fatal(c.Errors)
				}
			}
		})
	}
}
