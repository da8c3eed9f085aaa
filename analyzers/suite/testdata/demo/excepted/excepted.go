// Package excepted is covered by exceptions in .netlint.json.
package excepted

import (
	"net/smtp"
	"os/exec"
)

// Send sends mail.
var Send = smtp.SendMail

// Head reads the local HEAD.
func Head() ([]byte, error) { return exec.Command("git", "pull").Output() }
