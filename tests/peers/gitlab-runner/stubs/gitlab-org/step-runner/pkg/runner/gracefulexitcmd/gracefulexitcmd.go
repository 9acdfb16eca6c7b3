// Package gracefulexitcmd builds an exec.Cmd that, on context cancellation, sends SIGTERM
// and waits up to a delay before the Go runtime kills it (step-runner's behaviour).
package gracefulexitcmd

import (
	"context"
	"os/exec"
	"syscall"
	"time"
)

type Cmd = exec.Cmd

func New(ctx context.Context, delay time.Duration, name string, args ...string) *Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = delay
	return cmd
}
