// Package moa is a stand-in for gitlab.com/gitlab-org/moa, the `${{ }}` template language
// the runner uses for job inputs; the Go module proxy does not serve it. The stub parses
// text without expressions as a literal and rejects any text that contains one, so a job
// that relies on input interpolation fails visibly instead of running with raw text.
package moa

import (
	"errors"
	"strings"

	"gitlab.com/gitlab-org/moa/ast"
)

var ErrNotSupported = errors.New("job input expressions (${{ }}) are not available in the phaedo test build of gitlab-runner")

func ParseTemplate(text string) (ast.Expr, error) {
	if strings.Contains(text, "${{") {
		return nil, ErrNotSupported
	}
	return &ast.Literal{Text: text}, nil
}

// EscapeTemplate is only used for native CI Steps, which the test build cannot run.
func EscapeTemplate(text string) string { return text }
