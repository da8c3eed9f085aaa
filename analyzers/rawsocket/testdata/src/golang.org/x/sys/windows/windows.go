// Package windows is a stub of golang.org/x/sys/windows for the analyzer tests.
package windows

type Handle uintptr

type LazyDLL struct{ Name string }

func WSASocket(af, typ, protocol int32, info *byte, group uint32, flags uint32) (Handle, error) {
	return 0, nil
}
func GetAddrInfoW(nodename, servicename *uint16, hints, result *byte) error { return nil }
func NewLazySystemDLL(name string) *LazyDLL                                 { return &LazyDLL{name} }
func LoadDLL(name string) (*LazyDLL, error)                                 { return &LazyDLL{name}, nil }
