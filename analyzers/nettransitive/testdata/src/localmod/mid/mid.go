package mid // want package:"reaches localmod/low -> net/smtp"

import _ "localmod/low" // want `import "localmod/low" reaches forbidden package net/smtp: localmod/mid -> localmod/low -> net/smtp`
