// Package client mirrors the request/status types of step-runner's client API that the
// runner builds and inspects.
package client

import (
	"errors"
	"time"
)

// ErrNotSupported is what every stubbed step-runner call returns.
var ErrNotSupported = errors.New("CI Steps (step-runner) are not available in the phaedo test build of gitlab-runner")

type State int32

const (
	StateUnspecified State = iota
	StateRunning
	StateSuccess
	StateFailure
	StateCancelled
)

func (s State) String() string {
	switch s {
	case StateRunning:
		return "running"
	case StateSuccess:
		return "success"
	case StateFailure:
		return "failure"
	case StateCancelled:
		return "cancelled"
	default:
		return "unspecified"
	}
}

type ErrorKind int32

const (
	ErrorUnspecified ErrorKind = iota
	ErrorInternal
	ErrorStepFailure
	ErrorCancelled
	ErrorTimeout
	ErrorUnknown
)

type Status struct {
	Id        string
	Message   string
	State     State
	ErrorKind ErrorKind
	StartTime time.Time
	EndTime   time.Time
}

type Variable struct {
	Key    string
	Value  string
	File   bool
	Masked bool
}

type RunRequest struct {
	Id        string
	Timeout   *time.Duration
	WorkDir   string
	BuildDir  string
	Env       map[string]string
	Steps     string
	Variables []Variable
}
