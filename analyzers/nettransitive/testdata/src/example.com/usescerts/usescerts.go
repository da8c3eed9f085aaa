// Package usescerts is clean.
package usescerts

import "example.com/certs"

var _ = certs.Use

func init() {}
