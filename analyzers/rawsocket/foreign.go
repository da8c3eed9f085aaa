package rawsocket

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strings"
)

// CSocketFuncs are the C functions whose cgo calls are reported.
var CSocketFuncs = []string{
	"socket", "connect", "bind", "listen", "accept", "accept4", "sendto", "sendmsg", "sendmmsg",
	"getaddrinfo", "getaddrinfo_a", "gethostbyname", "gethostbyname_r", "gethostbyname2",
	"res_query", "res_search", "res_nquery", "curl_easy_perform", "curl_multi_perform",
	"WSASocketW", "WSAConnect", "InternetOpenW", "InternetOpenUrlW", "WinHttpOpen",
}

// linknamePackages are the packages a //go:linkname may not reach into at
// all: they are the network (internal/poll and internal/syscall hold the
// descriptors and socket calls of net).
var linknamePackages = []string{"net", "crypto/tls", "internal/poll", "internal/syscall/unix", "internal/syscall/windows"}

var cSocketRE = regexp.MustCompile(`\b(` + strings.Join(CSocketFuncs, "|") + `)\s*\(`)

// asmSyscallRE matches instructions that enter the kernel.
var asmSyscallRE = regexp.MustCompile(`(?m)^\s*(?:[A-Za-z_][A-Za-z0-9_]*:\s*)?(SYSCALL|SYSENTER|SVC|INT\s+\$(?:0x80|128)|ECALL)\b`)

// linknames reports //go:linkname directives that name network or socket
// symbols: the net package (or its internals) or a socket or Syscall
// function of syscall and golang.org/x/sys.
func (c *checker) linknames() []finding {
	var out []finding
	for _, f := range c.pass.Files {
		for _, cg := range f.Comments {
			for _, cm := range cg.List {
				rest, ok := strings.CutPrefix(cm.Text, "//go:linkname ")
				if !ok {
					continue
				}
				fields := strings.Fields(rest)
				if len(fields) < 2 {
					continue
				}
				target := fields[1]
				pkg, sym := splitTarget(target)
				bad := false
				for _, p := range linknamePackages {
					bad = bad || pkg == p || strings.HasPrefix(pkg, p+"/")
				}
				if pkg == "syscall" || strings.HasPrefix(pkg, "golang.org/x/sys/") {
					name := strings.TrimPrefix(sym, "_")
					for _, s := range append(append([]string(nil), SocketFuncs...), syscallFuncs...) {
						bad = bad || strings.EqualFold(name, s)
					}
					bad = bad || strings.EqualFold(name, "rawSyscallNoError") || strings.EqualFold(name, "syscall6")
				}
				if bad {
					pos, end := cm.Pos(), cm.End()
					if id := declared(f, fields[0]); id != nil {
						pos, end = id.Pos(), id.End()
					}
					out = append(out, finding{pos, end, target,
						fmt.Sprintf("%s is linked (//go:linkname) to %s: it reaches the network or a raw system call past netlint's rules", fields[0], target)})
				}
			}
		}
	}
	return out
}

// declared finds the declaration of a package-level name in f, where a
// linkname finding is reported (a directive line cannot carry anything
// else).
func declared(f *ast.File, name string) *ast.Ident {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && d.Name.Name == name {
				return d.Name
			}
		case *ast.GenDecl:
			for _, sp := range d.Specs {
				if vs, ok := sp.(*ast.ValueSpec); ok {
					for _, id := range vs.Names {
						if id.Name == name {
							return id
						}
					}
				}
			}
		}
	}
	return nil
}

// splitTarget splits "net.Dial" or "internal/poll.(*FD).Init" into its
// package path and symbol.
func splitTarget(t string) (string, string) {
	slash := strings.LastIndex(t, "/")
	dot := strings.Index(t[slash+1:], ".")
	if dot < 0 {
		return t, ""
	}
	return t[:slash+1+dot], t[slash+1+dot+1:]
}

// foreign reports socket calls in code netlint cannot analyse: the C
// preamble of cgo files and C files of the package, and assembly that makes
// system calls.
func (c *checker) foreign() []finding {
	var out []finding
	files := c.pass.Files
	// go/packages hands over the files cgo generated, without the
	// preamble: read the originals (named by their //line directives).
	seen := map[string]bool{}
	for _, f := range c.pass.Files {
		tf := c.pass.Fset.File(f.Pos())
		if tf == nil {
			continue
		}
		orig := c.pass.Fset.Position(f.Name.Pos()).Filename
		if orig == tf.Name() || seen[orig] || !strings.HasSuffix(orig, ".go") {
			continue
		}
		seen[orig] = true
		if g, err := parser.ParseFile(c.pass.Fset, orig, nil, parser.ImportsOnly|parser.ParseComments); err == nil {
			files = append(files, g)
		}
	}
	for _, f := range files {
		for _, imp := range f.Imports {
			if imp.Path.Value != `"C"` {
				continue
			}
			doc := imp.Doc
			if doc == nil {
				for _, d := range f.Decls {
					if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.IMPORT && gd.Pos() <= imp.Pos() && imp.End() <= gd.End() {
						doc = gd.Doc
					}
				}
			}
			if doc == nil {
				continue
			}
			if m := cSocketRE.FindStringSubmatch(doc.Text()); m != nil {
				out = append(out, finding{imp.Pos(), imp.End(), "C." + m[1],
					fmt.Sprintf("the cgo preamble calls %s(), C code that reaches the network outside the net package", m[1])})
			}
		}
	}
	for _, name := range c.pass.OtherFiles {
		var re *regexp.Regexp
		var what string
		switch {
		case strings.HasSuffix(name, ".s") || strings.HasSuffix(name, ".S"):
			re, what = asmSyscallRE, "assembly"
		case strings.HasSuffix(name, ".c") || strings.HasSuffix(name, ".cc") || strings.HasSuffix(name, ".cpp") || strings.HasSuffix(name, ".m"):
			re, what = cSocketRE, "C"
		default:
			continue
		}
		content, err := c.pass.ReadFile(name)
		if err != nil {
			continue
		}
		loc := re.FindSubmatchIndex(content)
		if loc == nil {
			continue
		}
		tf := c.pass.Fset.AddFile(name, -1, len(content))
		tf.SetLinesForContent(content)
		pos := tf.Pos(loc[2])
		m := string(content[loc[2]:loc[3]])
		if what == "assembly" {
			out = append(out, finding{pos, pos, "asm",
				fmt.Sprintf("assembly makes a system call (%s) netlint cannot check; it may open a socket", strings.Join(strings.Fields(m), " "))})
		} else {
			out = append(out, finding{pos, pos, "C." + m,
				fmt.Sprintf("C code calls %s(), which reaches the network outside the net package", m)})
		}
	}
	return out
}
