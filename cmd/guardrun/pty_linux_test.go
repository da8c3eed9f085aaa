//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/guardrun/guardrun/internal/testutil"
)

// ptyRun is the real binary on a pseudo-terminal (its stdin, stdout and
// stderr; its controlling terminal, so that ^C written to the terminal is
// a SIGINT as in a shell), and everything it wrote.
type ptyRun struct {
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	cond   *sync.Cond
	out    bytes.Buffer
	eof    bool
	exited chan struct{}
	err    error
}

// startPTY starts guardrun in dir on a new pty of cols columns.
func startPTY(t *testing.T, dir string, cols int, args ...string) *ptyRun {
	t.Helper()
	return startPTYOut(t, dir, cols, nil, args...)
}

// startPTYOut is startPTY with stdout to another file than the terminal
// (nil: the terminal).
func startPTYOut(t *testing.T, dir string, cols int, stdout *os.File, args ...string) *ptyRun {
	t.Helper()
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	master := os.NewFile(uintptr(mfd), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0), "unlockpt")
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	require.NoError(t, err, "ptsname")
	require.NoError(t, unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: uint16(cols)}))
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	defer slave.Close()

	p := &ptyRun{master: master, exited: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.cmd = exec.Command(guardrunBin, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(e2eEnv(), "TERM=xterm")
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = slave, slave, slave
	if stdout != nil {
		p.cmd.Stdout = stdout
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, p.cmd.Start())
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			if err != nil {
				p.eof = true // EIO once the last holder of the slave is gone
			}
			p.cond.Broadcast()
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// waitOutput waits until what guardrun wrote satisfies cond (it wakes on
// every read from the terminal, never on a timer), failing the test when
// guardrun stops writing first or after a minute.
func (p *ptyRun) waitOutput(t *testing.T, what string, cond func(out string) bool) string {
	t.Helper()
	timeout := time.AfterFunc(time.Minute, func() {
		p.mu.Lock()
		p.eof = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timeout.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		out := p.out.String()
		if cond(out) {
			return out
		}
		if p.eof {
			t.Fatalf("waiting for %s; the terminal showed:\n%s", what, render(out))
		}
		p.cond.Wait()
	}
}

// wait waits for guardrun to exit and for the terminal to drain, and
// returns its exit code and everything it wrote.
func (p *ptyRun) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(2 * time.Minute):
		t.Fatal("guardrun did not exit")
	}
	out := p.waitOutput(t, "the end of the output", func(string) bool { return p.eof })
	return exitOf(p.err), out
}

// screen is what a terminal shows after out: the printable text and the
// sequences the printer uses (\r, \n, ESC[K, ESC[nA, ESC[J), so that a test
// sees what a user sees, erased lines gone.
func screen(out string) []string {
	lines := []string{""}
	row, col := 0, 0
	put := func(c byte) {
		l := []byte(lines[row])
		for len(l) < col {
			l = append(l, ' ')
		}
		if col < len(l) {
			l[col] = c
		} else {
			l = append(l, c)
		}
		lines[row] = string(l)
		col++
	}
	for i := 0; i < len(out); i++ {
		switch c := out[i]; c {
		case '\r':
			col = 0
		case '\n':
			row, col = row+1, 0
			for len(lines) <= row {
				lines = append(lines, "")
			}
		case 0x1b:
			j := i + 2
			for j < len(out) && out[j] >= '0' && out[j] <= '9' {
				j++
			}
			if i+1 >= len(out) || out[i+1] != '[' || j >= len(out) {
				put('?')
				continue
			}
			n := 1
			if j > i+2 {
				n, _ = strconv.Atoi(out[i+2 : j])
			}
			switch out[j] {
			case 'K':
				if col < len(lines[row]) {
					lines[row] = lines[row][:col]
				}
			case 'A':
				row = max(row-n, 0)
			case 'J':
				if col < len(lines[row]) {
					lines[row] = lines[row][:col]
				}
				lines = lines[:row+1]
			default:
				put('?')
			}
			i = j
		default:
			put(c)
		}
	}
	return lines
}

func render(out string) string { return strings.Join(screen(out), "\n") }

const ptySpec = `{"version": 1, "name": "pty", "stages": [
  {"name": "slow", "processor": {"exec": ["bin/slowcopy"]}, "inputs": ["in.txt"], "outputDir": "work", "outputs": ["copy.txt"],
   "params": {"delayMicrosPerLine": 100}, "checkpoint": {"everyLines": 200, "everySeconds": 0.1}},
  {"name": "each", "foreach": {"glob": "many/*.txt"}, "processor": {"exec": ["bin/slowcopy"]}, "outputDir": "each", "outputs": ["{stem}.txt"],
   "params": {"delayMicrosPerLine": 100, "output": "{stem}.txt"}, "checkpoint": {"enabled": false}, "resources": {"cpus": 1}},
  {"name": "quiet", "processor": {"exec": ["bin/slowcopy"]}, "inputs": ["work/copy.txt"], "outputDir": "out", "outputs": ["copy.txt"],
   "params": {"delayMicrosPerLine": 20}, "checkpoint": {"enabled": false}}]}`

func ptyWorkspace(t *testing.T) string {
	files := map[string]string{"pipeline.json": ptySpec, "in.txt": testutil.Lines(20000)}
	for i := 0; i < 8; i++ {
		files["many/f"+strconv.Itoa(i)+".txt"] = testutil.Lines(3000)
	}
	return workspace(t, files)
}

// TestLiveProgressOnATerminal runs the real binary on a pty over slow
// processors: while it runs, the terminal shows stage n of m, a bar,
// bytes or items done of total, elapsed and ETA, and a stage that reports
// nothing shows how long it has been running; at the end the live line is
// erased and the screen holds only the permanent lines.
func TestLiveProgressOnATerminal(t *testing.T) {
	dir := ptyWorkspace(t)
	p := startPTY(t, dir, 120, "run")
	out := p.waitOutput(t, "a byte progress line of stage 1", func(out string) bool {
		return strings.Contains(out, "[1/3] slow") && strings.Contains(out, " / ") && strings.Contains(out, "ETA ")
	})
	assert.Regexp(t, `\[1/3\] slow +\[=*>? *\] +\d+%  [\d.]+ [KM]?i?B / 1\.1 MiB  [\d.]+ [KM]?i?B/s  elapsed \d+s  ETA \d+s`, out)
	out = p.waitOutput(t, "an items line of stage 2", func(out string) bool {
		return regexpMatch(`\[2/3\] each +\[=*>? *\]  [1-7]/8 items .*ETA \d+s`, out)
	})
	assert.Regexp(t, `\[2/3\] each +\[=*>? *\]  [1-7]/8 items +\d+%  elapsed \d+s  ETA \d+s`, out)
	p.waitOutput(t, "stage 3, which reports no progress", func(out string) bool {
		return regexpMatch(`\[3/3\] quiet +running, elapsed \d+s`, out)
	})
	code, out := p.wait(t)
	require.Equal(t, 0, code, render(out))
	last := out[strings.LastIndex(out, "\r\x1b[K"):]
	assert.Regexp(t, `^\r\x1b\[Kquiet +succeeded\r?\n(\r\x1b\[K)?run \S+ succeeded in`, last, "the live line is erased before the last lines")
	sc := render(out)
	assert.NotContains(t, sc, "elapsed", "no live line is left on the screen:\n%s", sc)
	assert.Contains(t, sc, "each                 succeeded (ran 8 of 8 items)")
	assert.Regexp(t, `run \S+ succeeded in \S+: 3 ran, 0 skipped\s*$`, sc)

	// Resume-free rerun: everything is skipped, nothing live is drawn.
	p = startPTY(t, dir, 120, "run")
	code, out = p.wait(t)
	require.Equal(t, 0, code, out)
	assert.NotContains(t, out, "\x1b[", "a no-op run draws no live line")
}

// TestLiveProgressClearedOnInterrupt: ^C on the terminal erases the live
// line before the interrupt message, and nothing live is drawn after it.
func TestLiveProgressClearedOnInterrupt(t *testing.T) {
	dir := ptyWorkspace(t)
	p := startPTY(t, dir, 120, "run")
	p.waitOutput(t, "a progress line", func(out string) bool { return strings.Contains(out, "ETA ") })
	_, err := p.master.Write([]byte{3}) // ^C: the terminal sends SIGINT to guardrun
	require.NoError(t, err)
	code, out := p.wait(t)
	assert.Equal(t, exitInterrupted, code, render(out))
	i := strings.Index(out, "guardrun: interrupted")
	require.GreaterOrEqual(t, i, 0, render(out))
	before, after := out[:i], out[i:]
	assert.True(t, strings.HasSuffix(strings.TrimSuffix(before, "^C"), "\r\x1b[K"), "the live line is erased before the message: %q", before[max(len(before)-200, 0):])
	assert.NotContains(t, after, "elapsed", "no live line after the interrupt")
	assert.NotContains(t, render(out), "elapsed", "no live line left on the screen:\n%s", render(out))
}

// TestNoLiveProgressOffATerminalOrWhenAsked: --json, --quiet and --silent
// on a terminal, and stdout not a terminal, draw nothing live (stderr is
// the terminal in every case).
func TestNoLiveProgressOffATerminalOrWhenAsked(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		stdoutOff bool
	}{
		{"json", []string{"run", "--json"}, false},
		{"quiet", []string{"run", "--quiet"}, false},
		{"silent", []string{"run", "--silent"}, false},
		{"stdout to a file", []string{"run"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := ptyWorkspace(t)
			var stdout *os.File
			if tc.stdoutOff {
				f, err := os.Create(dir + "/stdout.txt")
				require.NoError(t, err)
				defer f.Close()
				stdout = f
			}
			p := startPTYOut(t, dir, 120, stdout, tc.args...)
			code, out := p.wait(t)
			require.Equal(t, 0, code, out)
			assert.NotContains(t, out, "\x1b[", "no escape sequences")
			assert.NotContains(t, out, "ETA")
			if tc.stdoutOff {
				assert.Contains(t, out, "each                 succeeded", "plain lines still go to the terminal")
			}
		})
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
