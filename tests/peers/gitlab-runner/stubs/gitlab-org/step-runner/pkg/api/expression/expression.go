// Package expression is a stand-in for step-runner's `${{ }}` evaluator, used by the
// runner for job inputs. The stub evaluates nothing: a template that contains an
// expression fails (see moa.ParseTemplate), plain text passes through unchanged.
package expression

import (
	"gitlab.com/gitlab-org/moa/ast"
	"gitlab.com/gitlab-org/moa/value"
)

// Sensitive is the value mark for sensitive job inputs.
const Sensitive uint16 = 1

type Input struct {
	Key   string
	Value value.Value
}

type Evaluator struct{}

func NewEvaluator(value.Value) (*Evaluator, error) { return &Evaluator{}, nil }

func (e *Evaluator) Eval(text string, expr ast.Expr) (value.Value, error) {
	return value.String(text), nil
}
