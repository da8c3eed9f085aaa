package engine

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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
