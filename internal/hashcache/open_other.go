//go:build !unix

package hashcache

import "os"

func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
