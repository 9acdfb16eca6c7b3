// Package api is a compile-only stand-in for the runner's nested module
// gitlab.com/gitlab-org/gitlab-runner/helpers/runner_wrapper/api, which the Go module
// proxy does not serve at the pinned commit. It backs the `wrapper` command only, which
// the phaedo test build never registers; the shapes follow the runner's call sites.
package api

import (
	"context"
	"errors"
)

type Status int

const (
	StatusUnknown Status = iota
	StatusRunning
	StatusInShutdown
	StatusStopped
)

func (s Status) String() string {
	switch s {
	case StatusRunning:
		return "running"
	case StatusInShutdown:
		return "in_shutdown"
	case StatusStopped:
		return "stopped"
	default:
		return "unknown"
	}
}

var ErrProcessNotInitialized = errors.New("process not initialized")

type ShutdownCallbackDef interface {
	URL() string
	Method() string
	Headers() map[string]string
}

type InitGracefulShutdownRequest interface {
	ShutdownCallbackDef() ShutdownCallbackDef
}

type ShutdownCallback interface {
	Run(ctx context.Context)
}

type noopCallback struct{}

func (noopCallback) Run(context.Context) {}

// The logger parameter is `any` so the stub needs no dependencies.
func NewShutdownCallback(any, ShutdownCallbackDef) ShutdownCallback {
	return noopCallback{}
}
