// Package usesflagish is clean: flagish uses net for data only.
package usesflagish

import "example.com/flagish"

var _ flagish.IPValue
