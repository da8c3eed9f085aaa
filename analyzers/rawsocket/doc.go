// Package rawsocket defines the rawsocket analyzer: it reports calls that
// reach the network without importing a network package, each at the call:
//
//   - socket system calls of syscall, golang.org/x/sys/unix and
//     golang.org/x/sys/windows (Socket, Connect, Bind, Listen, Accept,
//     Sendto, Sendmsg, WSASocket, ConnectEx, GetAddrInfoW, DnsQuery, ...),
//     also when taken as a function value;
//   - Syscall/RawSyscall (and the 6- and N-argument forms) whose trap value,
//     resolved on SSA (literal, local constant, variable, package variable,
//     helper parameter), is one of the platform's SYS_SOCKET, SYS_CONNECT,
//     ... numbers; a trap it cannot resolve is an "unresolved trap";
//   - Syscall functions used as values (also through reflect);
//   - calls of functions of other packages that do any of this: a Sockets
//     fact carries the chain (a.F -> b.G -> syscall.Socket) and the
//     parameters used as trap numbers;
//   - //go:linkname into net (or its internals) or to socket and Syscall
//     functions; cgo calls and preambles that call socket functions, C files
//     that do, and assembly files that enter the kernel;
//   - loading a Windows networking DLL by a literal name (ws2_32.dll,
//     wininet.dll, winhttp.dll, dnsapi.dll, urlmon.dll, ...);
//   - plugin.Open, which loads code netlint never sees.
//
// Socketpair is not reported: it only connects two local descriptors; nor is
// a Socket of the constant domain AF_UNIX.
// A finding is suppressed by "//netlint:allow <reason>" on the line or the
// line before, or by a "call" exception of the config file naming the
// qualified function (e.g. "golang.org/x/sys/unix.Socket").
package rawsocket
