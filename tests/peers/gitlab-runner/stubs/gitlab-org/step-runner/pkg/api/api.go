// Package api is a stand-in for step-runner's API package (socket location only).
package api

import (
	"os"
	"path/filepath"
)

func DefaultSocketPath() string {
	return filepath.Join(os.TempDir(), "step-runner.sock")
}
