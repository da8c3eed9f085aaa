// Package usesip is clean: its dependency uses net for data only.
package usesip

import "example.com/ipdep/ipflag"

// V is a flag.
var V ipflag.IP
