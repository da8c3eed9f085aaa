//go:build windows

package tagged

import "net/http" // want `forbidden network import "net/http"`

var _ = http.Get
