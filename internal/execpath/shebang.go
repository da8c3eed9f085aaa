package execpath

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// Interpreter is a program the kernel runs for a script: the one its "#!"
// line names.
type Interpreter struct {
	// Script is the file whose "#!" line names this interpreter (absolute,
	// as found): Program.Path, or the previous interpreter of the chain.
	Script string `json:"script"`
	// Line is the "#!" line without "#!", trimmed: "/usr/bin/python3 -u",
	// "/usr/bin/env python3".
	Line string `json:"line"`
	// Path is the interpreter that runs: the line's absolute path, or for
	// "/usr/bin/env NAME" the first NAME on the search path (env itself is
	// a launcher and is not judged). Absolute and cleaned, as found.
	Path string `json:"path"`
	// Real is Path made symlink-free, with forward slashes: what the policy
	// judges. "" when Path does not exist.
	Real string `json:"real"`
}

// maxShebang is how much of a file the kernel reads for its "#!" line
// (Linux's BINPRM_BUF_SIZE).
const maxShebang = 256

// maxInterpreters bounds a chain of interpreters that are scripts
// themselves (Linux allows 4 levels; guardrun follows as many).
const maxInterpreters = 4

// interpreters follows the "#!" lines starting at the program path: the
// script's interpreter, and when that is a script too, its interpreter, up
// to maxInterpreters. searchPath is the PATH the program runs with, for
// "#!/usr/bin/env NAME". It returns what it resolved, also with an error.
// Windows has no "#!": nothing is read there.
func (r *Resolver) interpreters(path, searchPath string) ([]Interpreter, error) {
	if runtime.GOOS == "windows" {
		return nil, nil
	}
	var chain []Interpreter
	for script := path; ; {
		line, ok, err := readShebang(script)
		if err != nil {
			return chain, fmt.Errorf("processor %s: reading its #! line: %w", path, unwrap(err))
		}
		if !ok {
			return chain, nil
		}
		if len(chain) == maxInterpreters {
			return chain, fmt.Errorf("processor %s: more than %d levels of #! interpreters", path, maxInterpreters)
		}
		it, err := r.interpreter(script, line, searchPath)
		if it.Path != "" {
			it.Real = r.Real(it.Path)
			chain = append(chain, it)
		}
		if err == nil {
			err = checkInterpreter(it.Path)
		}
		if err != nil {
			return chain, fmt.Errorf("processor %s: %w", path, err)
		}
		script = it.Path
	}
}

// readShebang returns the "#!" line of the file at path (without "#!",
// blanks trimmed) and whether it has one.
func readShebang(path string) (string, bool, error) {
	// Non-blocking, and only a regular file is read: a FIFO swapped in
	// after the checks must not hang guardrun.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", false, err
	}
	buf := make([]byte, maxShebang)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", false, err
	}
	buf = buf[:n]
	if len(buf) < 2 || buf[0] != '#' || buf[1] != '!' {
		return "", false, nil
	}
	line := buf[2:]
	if i := strings.IndexAny(string(line), "\n\x00"); i >= 0 {
		line = line[:i]
	}
	return strings.Trim(string(line), " \t"), true, nil
}

// interpreter parses one "#!" line as the kernel does (the interpreter is
// the first word, it must be absolute) and follows "/usr/bin/env NAME".
func (r *Resolver) interpreter(script, line, searchPath string) (Interpreter, error) {
	it := Interpreter{Script: script, Line: line}
	// Only blanks separate words: a "\r" of a CRLF file is part of the
	// name, as the kernel reads it.
	words := strings.FieldsFunc(line, func(c rune) bool { return c == ' ' || c == '\t' })
	if len(words) == 0 {
		return it, errors.New("its #! line names no interpreter")
	}
	prog := words[0]
	if !filepath.IsAbs(prog) {
		return it, fmt.Errorf("interpreter %q (#!%s) is not an absolute path", prog, line)
	}
	prog = filepath.Clean(prog)
	if filepath.Base(prog) != "env" {
		it.Path = prog
		return it, nil
	}
	name, search, err := envProgram(words[1:], searchPath)
	if err != nil {
		return it, fmt.Errorf("#!%s: %w", line, err)
	}
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			return it, fmt.Errorf("interpreter %q (#!%s) is not an absolute path", name, line)
		}
		it.Path = filepath.Clean(name)
		return it, nil
	}
	found, err := r.lookIn(search, name)
	if err != nil {
		return it, fmt.Errorf("interpreter %q (#!%s) not found on PATH", name, line)
	}
	it.Path = found
	return it, nil
}

// envProgram reads env's arguments as env would: options, then NAME=VALUE
// assignments (PATH=... changes where the program is looked up), then the
// program. Only options that do not change the look-up are accepted (-S,
// which splits the one argument Linux passes, -v and their long forms);
// anything else (-i, -u, -C, -P, ...) is refused rather than guessed at.
func envProgram(args []string, searchPath string) (name, search string, err error) {
	search = searchPath
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return args[i+1], search, nil
			}
			return "", "", errors.New("env names no program")
		case a == "-S" || a == "--split-string" || a == "-v" || a == "--debug":
			continue
		case strings.HasPrefix(a, "--split-string=") || strings.HasPrefix(a, "-S"):
			// -Spython3: the rest of the word is the next word.
			rest := strings.TrimPrefix(a, "--split-string=")
			if rest == a {
				rest = a[2:]
			}
			if rest != "" {
				args[i], i = rest, i-1
			}
		case strings.HasPrefix(a, "-"):
			return "", "", fmt.Errorf("env option %q is not supported; name the interpreter by its absolute path", a)
		case strings.Contains(a, "="):
			if k, v, _ := strings.Cut(a, "="); k == "PATH" {
				search = v
			}
		default:
			return a, search, nil
		}
	}
	return "", "", errors.New("env names no program")
}

// lookIn finds an executable named name on searchPath as execvp does, with
// exec.LookPath's refusal of a match through a relative entry.
func (r *Resolver) lookIn(searchPath, name string) (string, error) {
	k := searchPath + "\x00" + name
	if l, ok := r.lookPath[k]; ok {
		return l.path, l.err
	}
	var l looked
	l.err = os.ErrNotExist
	for _, dir := range filepath.SplitList(searchPath) {
		if dir == "" {
			dir = "."
		}
		cand := filepath.Join(dir, name)
		if !isExecutableFile(cand) {
			continue
		}
		if !filepath.IsAbs(cand) {
			break // found relative to the current directory: refused
		}
		l = looked{path: filepath.Clean(cand)}
		break
	}
	r.lookPath[k] = l
	return l.path, l.err
}

func isExecutableFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// checkInterpreter is checkExecutable for an interpreter.
func checkInterpreter(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("interpreter %s: %w", p, unwrap(err))
	}
	if fi.IsDir() {
		return fmt.Errorf("interpreter %s is a directory", p)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("interpreter %s is not a regular file", p)
	}
	if fi.Mode()&0o111 == 0 {
		return fmt.Errorf("interpreter %s is not executable", p)
	}
	return nil
}

// unwrap drops the *fs.PathError around err: messages name the path once.
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
