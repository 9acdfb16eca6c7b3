// Package runner holds the interface step-runner hands to builtin steps; the runner's
// `concrete` builtin implements against it.
package runner

import (
	"io"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
)

type BuiltinContext interface {
	GetJobVars() map[string]*structpb.Value
	GetEnvs() map[string]string
	Pipe() (stdout io.Writer, stderr io.Writer)
	WorkDir() string
	GracefulExitDelay() time.Duration
}
