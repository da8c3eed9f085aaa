//go:build cgo

package cgo

/*
#include <sys/socket.h>
#include <netinet/in.h>
static int opensock(void) { return socket(AF_INET, SOCK_STREAM, 0); }
*/
import "C" // want `the cgo preamble calls socket\(\), C code that reaches the network`

func cgoSocket() { // want cgoSocket:`makes a raw network call: cgo\.cgoSocket -> C\.connect`
	fd := C.opensock()
	C.connect(fd, nil, 0) // want `cgo call C.connect reaches the network outside the net package`
}
