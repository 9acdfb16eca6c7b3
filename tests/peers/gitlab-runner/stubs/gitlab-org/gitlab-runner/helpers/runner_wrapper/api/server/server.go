// Package server is a compile-only stand-in for the runner wrapper's gRPC server (see
// the parent package). The phaedo test build does not register the `wrapper` command.
package server

import (
	"net"

	"gitlab.com/gitlab-org/gitlab-runner/helpers/runner_wrapper/api"
)

type Wrapper interface {
	Status() api.Status
	FailureReason() string
	InitiateGracefulShutdown(req api.InitGracefulShutdownRequest) error
	InitiateForcefulShutdown() error
}

type Server struct{}

func New(any, Wrapper) *Server { return &Server{} }

func (s *Server) Listen(l net.Listener) { _ = l.Close() }

func (s *Server) Stop() {}
