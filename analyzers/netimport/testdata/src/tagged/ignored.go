//go:build ignore

package tagged

import "net/smtp" // never loaded: excluded by its build tag, so no finding

var _ = smtp.Dial
