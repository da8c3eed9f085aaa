package directives

import (
	"net/url" //netlint:allow a reason is given, nothing to report

	//netlint:allow // want `//netlint:allow needs a reason`
	"net/mail"
)

//netlint:allow	tab-separated reasons count

//netlint:ignore this // want `unknown netlint directive "netlint:ignore"`

// netlint:alow typo // want `unknown netlint directive "netlint:alow"`

// A comment that merely mentions netlint:allow in prose is not a directive.

func F() {
	_ = url.Parse
	_ = mail.ParseAddress //netlint:allow   // want `needs a reason`
}
