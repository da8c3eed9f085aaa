package low // want package:"reaches net/smtp"

// low has an import path without a dot, like a module named "localmod": it
// is not the standard library and is followed.

import "net/smtp"

var _ = smtp.Dial
