package top // want package:"reaches localmod/mid -> localmod/low -> net/smtp"

import _ "localmod/mid" // want `import "localmod/mid" reaches forbidden package net/smtp: localmod/top -> localmod/mid -> localmod/low -> net/smtp`
