// Package rawsocket defines the rawsocket analyzer: it reports calls that
// reach the network without importing a network package, each at the call:
//
//   - socket system calls of syscall, golang.org/x/sys/unix and
//     golang.org/x/sys/windows (Socket, Connect, Bind, Listen, Accept,
//     Sendto, Sendmsg, WSASocket, ConnectEx, GetAddrInfoW, DnsQuery, ...),
//     also when taken as a function value;
//   - Syscall/RawSyscall (and the 6- and N-argument forms) whose trap is one
//     of the SYS_SOCKET, SYS_CONNECT, ... constants;
//   - loading a Windows networking DLL by a literal name (ws2_32.dll,
//     wininet.dll, winhttp.dll, dnsapi.dll, urlmon.dll, ...);
//   - plugin.Open, which loads code netlint never sees.
//
// Socketpair is not reported: it only connects two local descriptors.
// A finding is suppressed by "//netlint:allow <reason>" on the line or the
// line before, or by a "call" exception of the config file naming the
// qualified function (e.g. "golang.org/x/sys/unix.Socket").
package rawsocket
