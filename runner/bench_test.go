package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/guardrun/guardrun/internal/testutil"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/sandbox"
)

// The no-op benchmarks measure what DESIGN §9 bounds: a rerun where
// everything is up to date, in-process (the CLI adds process start-up;
// bench/peers.sh measures that end to end). Set GUARDRUN_BENCH_BIG to a
// large file (e.g. the 1 GiB file of shared/bench/setup_peers.sh) to use it
// as the input; otherwise 1 GiB of text lines is written.

func benchWorkspace(b *testing.B, spec string, files map[string]string) (string, *pipeline.Pipeline) {
	b.Helper()
	dir := testutil.Workspace(b, files)
	testutil.WriteFile(b, filepath.Join(dir, "pipeline.json"), spec)
	p, err := pipeline.Load(filepath.Join(dir, "pipeline.json"), pipeline.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return dir, p
}

func benchRun(b *testing.B, p *pipeline.Pipeline, sb sandbox.Sandbox, id string) *Result {
	res, err := Run(context.Background(), p, Options{RunID: id, Sandbox: sb})
	if err != nil {
		b.Fatal(err)
	}
	return res
}

func BenchmarkNoopRun1GiB2Stages(b *testing.B) {
	spec := `{"version": 1, "name": "big", "stages": [
	  {"name": "copy", "processor": {"exec": ["bin/copy"]}, "inputs": ["input/big.txt"], "outputDir": "work", "outputs": ["copy.txt"]},
	  {"name": "upper", "processor": {"exec": ["bin/upper"]}, "inputs": ["work/copy.txt"], "outputDir": "output", "outputs": ["result.txt"]}]}`
	dir, p := benchWorkspace(b, spec, nil)
	big := filepath.Join(dir, "input", "big.txt")
	if src := os.Getenv("GUARDRUN_BENCH_BIG"); src != "" {
		if err := os.MkdirAll(filepath.Dir(big), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.Link(src, big); err != nil {
			testutil.CopyFile(b, src, big, 0o644)
		}
	} else {
		writeBig(b, big, 1<<30)
	}
	// Stat-cache entries are trusted once a file is older than the racy
	// window: age the inputs and processors instead of sleeping.
	ageFiles(b, dir)
	sb := benchSandbox(b)
	benchRun(b, p, sb, "cold") // hashes 1 GiB once and produces the outputs
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := benchRun(b, p, sb, fmt.Sprintf("noop%d", i))
		if res.State.Counts.Skipped != 2 {
			b.Fatalf("not a no-op: %+v", res.State.Counts)
		}
	}
}

func BenchmarkNoopRun400Stages(b *testing.B) {
	const n = 200
	var stages []string
	files := map[string]string{}
	for i := 1; i <= n; i++ {
		files[fmt.Sprintf("input/f%d.txt", i)] = testutil.Lines(60)
		stages = append(stages,
			fmt.Sprintf(`{"name": "copy%d", "processor": {"exec": ["bin/copy"]}, "inputs": ["input/f%d.txt"], "outputDir": "work", "outputs": ["f%d.txt"], "dependsOn": []}`, i, i, i),
			fmt.Sprintf(`{"name": "upper%d", "processor": {"exec": ["bin/upper"]}, "inputs": ["work/f%d.txt"], "outputDir": "output", "outputs": ["f%d.txt"], "dependsOn": []}`, i, i, i))
	}
	spec := `{"version": 1, "name": "many", "resources": {"cpus": 2}, "stages": [` + strings.Join(stages, ",\n") + `]}`
	dir, p := benchWorkspace(b, spec, files)
	ageFiles(b, dir)
	sb := benchSandbox(b)
	benchRun(b, p, sb, "cold")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := benchRun(b, p, sb, fmt.Sprintf("noop%d", i))
		if res.Metrics.Totals.StagesSkipped != 2*n {
			b.Fatalf("not a no-op: %d skipped", res.Metrics.Totals.StagesSkipped)
		}
	}
}

// BenchmarkColdRunMemory reports guardrun's own peak heap while a stage
// streams its input (DESIGN §9: flat whatever the input size).
func BenchmarkColdRunMemory(b *testing.B) {
	for _, mb := range []int{16, 256} {
		b.Run(fmt.Sprintf("input=%dMiB", mb), func(b *testing.B) {
			spec := `{"version": 1, "name": "mem", "stages": [
			  {"name": "upper", "processor": {"exec": ["bin/upper"]}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["result.txt"]}]}`
			line := testutil.Lines(1)
			content := strings.Repeat(line, (mb<<20)/len(line))
			dir, p := benchWorkspace(b, spec, map[string]string{"in.txt": content})
			content = ""
			runtime.GC()
			sb := benchSandbox(b)
			var peak uint64
			for i := 0; i < b.N; i++ {
				_ = os.RemoveAll(filepath.Join(dir, "out"))
				_ = os.RemoveAll(filepath.Join(dir, "state"))
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				benchRun(b, p, sb, fmt.Sprintf("m%d", i))
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				if d := after.TotalAlloc - before.TotalAlloc; d > peak {
					peak = d
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "MiB-allocated/run")
		})
	}
}

// writeBig writes size bytes of text lines to path.
func writeBig(b *testing.B, path string, size int) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	block := []byte(testutil.Lines(16000)) // about 1 MiB
	for n := 0; n < size; n += len(block) {
		if _, err := f.Write(block); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// ageFiles moves every file's mtime 10 s into the past so that stat-cache
// entries made now are not "racily clean" (outputs made later are trusted
// as produced by guardrun).
func ageFiles(b *testing.B, dir string) {
	b.Helper()
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			t := fi.ModTime().Add(-10e9)
			_ = os.Chtimes(p, t, t)
		}
		return nil
	})
}

// BenchmarkColdTinyStages runs 100 independent stages over 4 KiB files from
// scratch, with the kernel sandbox (namespaces + cgroup per attempt) and
// without it (process group only), to split a tiny stage's cost between
// isolation and the runner's own work (staging, fsyncs, marker, state).
func BenchmarkColdTinyStages(b *testing.B) {
	const n = 100
	var stages []string
	files := map[string]string{}
	for i := 1; i <= n; i++ {
		files[fmt.Sprintf("input/f%d.txt", i)] = testutil.Lines(60)
		stages = append(stages, fmt.Sprintf(`{"name": "copy%d", "processor": {"exec": ["bin/copy"]}, "inputs": ["input/f%d.txt"], "outputDir": "work", "outputs": ["f%d.txt"], "dependsOn": []}`, i, i, i))
	}
	spec := `{"version": 1, "name": "tiny", "resources": {"cpus": 2}, "stages": [` + strings.Join(stages, ",\n") + `]}`
	for _, kind := range []string{"plain", "kernel"} {
		b.Run("sandbox="+kind, func(b *testing.B) {
			if kind == "kernel" && os.Getuid() != 0 {
				b.Skip("the kernel sandbox needs root here")
			}
			dir, p := benchWorkspace(b, spec, files)
			ageFiles(b, dir)
			var sb sandbox.Sandbox = plainExec{}
			if kind == "kernel" {
				var err error
				if sb, err = sandbox.New(sandbox.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				_ = os.RemoveAll(filepath.Join(dir, "work"))
				_ = os.RemoveAll(filepath.Join(dir, "state"))
				b.StartTimer()
				benchRun(b, p, sb, fmt.Sprintf("c%d", i))
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/n, "ms/stage")
		})
	}
}

// plainExec starts processors as plain child processes (no namespaces, no
// cgroup): the baseline of BenchmarkColdTinyStages. Benchmarks only.
type plainExec struct{}

func (plainExec) Report() sandbox.Report {
	return sandbox.Report{Network: "none", Memory: "none", CPU: "none", Pids: "none", IO: "none"}
}
func (plainExec) Sweep() error { return nil }
func (plainExec) Start(ctx context.Context, c *sandbox.Cmd) (sandbox.Process, error) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = c.Env, c.Dir, c.Stdout, c.Stderr, c.ExtraFiles
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &plainProcess{cmd: cmd}, nil
}

type plainProcess struct{ cmd *exec.Cmd }

func (p *plainProcess) Pid() int    { return p.cmd.Process.Pid }
func (p *plainProcess) Kill() error { return p.cmd.Process.Kill() }
func (p *plainProcess) Wait() (sandbox.Result, error) {
	_ = p.cmd.Wait()
	return sandbox.Result{ExitCode: p.cmd.ProcessState.ExitCode()}, nil
}

// BenchmarkNoopFanOut10k is the no-op of bench/scale.sh in-process:
// 10,000 one-line files through a batched fan-out stage and a fan-in over
// its outputs (DESIGN §9: 10,000 items, no-op under 150 ms end to end;
// start-up and preflight are outside this benchmark).
func BenchmarkNoopFanOut10k(b *testing.B) {
	const n = 10000
	files := map[string]string{}
	for i := 0; i < n; i++ {
		files[fmt.Sprintf("input/f%06d.txt", i)] = fmt.Sprintf("line %d of the quick brown fox\n", i)
	}
	spec := `{"version": 1, "name": "scale", "resources": {"cpus": 2}, "stages": [
	  {"name": "upper", "foreach": {"glob": "input/*.txt"}, "processor": {"exec": ["bin/upper"]},
	   "outputDir": "work/upper", "outputs": ["{item}"], "batch": {"maxItems": 5000}},
	  {"name": "merge", "processor": {"exec": ["bin/copy"]}, "inputs": ["work/upper"], "outputDir": "output"}]}`
	dir, p := benchWorkspace(b, spec, files)
	ageFiles(b, dir)
	sb := benchSandbox(b)
	benchRun(b, p, sb, "cold")
	benchRun(b, p, sb, "warm") // records what the cold run's racy window left out
	if out := os.Getenv("GUARDRUN_BENCH_CPUPROFILE"); out != "" {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := benchRun(b, p, sb, fmt.Sprintf("noop%d", i))
		if res.State.Counts.Skipped != 2 {
			b.Fatalf("not a no-op: %+v", res.State.Counts)
		}
	}
}

// benchSandbox is the sandbox of the orchestration benchmarks (no
// namespaces or cgroups: what they time is guardrun's own work), closed
// when the benchmark ends.
func benchSandbox(b *testing.B) sandbox.Sandbox {
	b.Helper()
	sb, err := sandbox.New(sandbox.Options{BestEffort: true, AllowNetwork: true})
	if err != nil {
		b.Fatal(err)
	}
	if c, ok := sb.(io.Closer); ok {
		b.Cleanup(func() { _ = c.Close() })
	}
	return sb
}
