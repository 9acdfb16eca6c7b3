// Package ast holds the few moa syntax-tree types the runner names.
package ast

type Expr interface {
	Walk(v Visitor) (Expr, error)
}

type Visitor interface {
	Enter(expr Expr) (Visitor, error)
	Exit(expr Expr) (Expr, error)
}

// Literal is plain text without expressions: the only node the stub parser produces.
type Literal struct{ Text string }

func (l *Literal) Walk(v Visitor) (Expr, error) { return walk(l, v) }

// Template is an interpolation node; the stub never produces one.
type Template struct{}

func (t *Template) Walk(v Visitor) (Expr, error) { return walk(t, v) }

func walk(e Expr, v Visitor) (Expr, error) {
	if _, err := v.Enter(e); err != nil {
		return e, err
	}
	return v.Exit(e)
}
