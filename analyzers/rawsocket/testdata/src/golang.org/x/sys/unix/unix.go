// Package unix is a stub of golang.org/x/sys/unix for the analyzer tests.
package unix

const (
	AF_INET     = 2
	SOCK_STREAM = 1
	SYS_SOCKET  = 41
	SYS_CONNECT = 42
	SYS_GETPID  = 39
)

type Sockaddr interface{}

type SockaddrInet4 struct {
	Port int
	Addr [4]byte
}

func Socket(domain, typ, proto int) (int, error)            { return 0, nil }
func Connect(fd int, sa Sockaddr) error                     { return nil }
func Bind(fd int, sa Sockaddr) error                        { return nil }
func Listen(fd int, n int) error                            { return nil }
func Accept4(fd int, flags int) (int, Sockaddr, error)      { return 0, nil, nil }
func Sendto(fd int, p []byte, flags int, to Sockaddr) error { return nil }
func Socketpair(domain, typ, proto int) ([2]int, error)     { return [2]int{}, nil }
func Close(fd int) error                                    { return nil }
func Syscall(trap, a1, a2, a3 uintptr) (r1, r2 uintptr, err error) {
	return 0, 0, nil
}
func Exec(argv0 string, argv []string, envv []string) error { return nil }
