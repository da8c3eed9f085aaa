// Package tools shells out to network tools.
package tools

import (
	"context"
	"os/exec"
)

// Download downloads with curl.
func Download(ctx context.Context, url string) error {
	return exec.CommandContext(ctx, "curl", "-fsSLO", url).Run()
}

// Sync copies with rsync through a shell.
func Sync() error {
	return exec.Command("sh", "-c", "rsync -a data/ backup:/data/").Run()
}

// Sort is local.
func Sort() error {
	return exec.Command("sort", "-o", "out.txt", "in.txt").Run()
}
