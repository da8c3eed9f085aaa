// Command helper is a hostile processor for the sandbox tests. Modes:
//
//	helper net <tcp-addr> <udp-addr>   try the network several ways; print one line per try
//	helper ifaces                      print the network interfaces and whether they are up
//	helper hog <MiB>                   allocate and touch MiB of memory
//	helper fork <n>                    start n children sleeping 60 s; print how many started
//	helper parent <id>                 run a sandboxed "true" (its drained cgroup is kept for reuse), start a sandboxed "sleep 300", print its pid, sleep
//	helper doors <unix-socket-path>    try the non-network doors out; print "open <door>" or "closed <door>: <error>"
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"github.com/guardrun/guardrun/sandbox"
	"golang.org/x/sys/unix"
)

func main() {
	switch os.Args[1] {
	case "net":
		netTries(os.Args[2], os.Args[3])
	case "doors":
		doors(os.Args[2])
	case "ifaces":
		ifs, err := net.Interfaces()
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		for _, i := range ifs {
			state := "down"
			if i.Flags&net.FlagUp != 0 {
				state = "up"
			}
			fmt.Println(i.Name, state)
		}
	case "hog":
		mib, _ := strconv.Atoi(os.Args[2])
		var keep [][]byte
		for i := 0; i < mib; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated", len(keep), "MiB")
	case "fork":
		n, _ := strconv.Atoi(os.Args[2])
		ok := 0
		for i := 0; i < n; i++ {
			if err := exec.Command("/bin/sleep", "60").Start(); err == nil {
				ok++
			}
		}
		fmt.Println(ok)
	case "parent":
		sb, err := sandbox.New(sandbox.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		// Other limits than the sleeper's: its cgroup stays idle.
		t, err := sb.Start(context.Background(), &sandbox.Cmd{ID: os.Args[2] + "-true", Path: "/bin/true", Args: []string{"true"}, Limits: sandbox.Limits{Pids: 8}})
		if err == nil {
			_, err = t.Wait()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		p, err := sb.Start(context.Background(), &sandbox.Cmd{ID: os.Args[2], Path: "/bin/sleep", Args: []string{"sleep", "300"}, Limits: sandbox.Limits{MemoryBytes: 64 << 20, Pids: 16}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(p.Pid())
		time.Sleep(time.Hour)
	}
}

// netTries prints "tcp ok|fail: err", "udp ...", "setns ...". A sandboxed
// run must print only failures.
func netTries(tcpAddr, udpAddr string) {
	try := func(name string, f func() error) {
		if err := f(); err != nil {
			fmt.Printf("%s fail: %v\n", name, err)
		} else {
			fmt.Printf("%s ok\n", name)
		}
	}
	dialTCP := func() error {
		c, err := net.DialTimeout("tcp", tcpAddr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello\n"))
		return err
	}
	try("tcp", dialTCP)
	try("udp", func() error {
		c, err := net.Dial("udp", udpAddr)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	})
	try("udp-public", func() error {
		c, err := net.Dial("udp", "8.8.8.8:53")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	})
	// Escape attempt: join the host's network namespace through pid 1.
	try("setns", func() error {
		runtime.LockOSThread()
		f, err := os.Open("/proc/1/ns/net")
		if err != nil {
			return err
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			return err
		}
		return dialTCP()
	})
}

// doors tries ways out of the sandbox that are not the IP network.
func doors(unixPath string) {
	try := func(name string, f func() error) {
		if err := f(); err != nil {
			fmt.Printf("closed %s: %v\n", name, err)
			return
		}
		fmt.Printf("open %s\n", name)
	}
	try("unix-path", func() error {
		c, err := net.Dial("unix", unixPath)
		if err == nil {
			_ = c.Close()
		}
		return err
	})
	try("unix-abstract", func() error {
		c, err := net.Dial("unix", "@guardrun-test-abstract")
		if err == nil {
			_ = c.Close()
		}
		return err
	})
	try("vsock", func() error {
		fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
		if err == nil {
			_ = unix.Close(fd)
		}
		return err
	})
	try("io_uring", func() error {
		var params [120]byte
		fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&params[0])), 0)
		if e != 0 {
			return e
		}
		return unix.Close(int(fd))
	})
	try("socketpair", func() error {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err == nil {
			_ = unix.Close(fds[0])
			_ = unix.Close(fds[1])
		}
		return err
	})
	try("setuid-root", func() error { return unix.Setuid(0) })
	try("mount", func() error { return unix.Mount("none", "/mnt", "tmpfs", 0, "") })
}
