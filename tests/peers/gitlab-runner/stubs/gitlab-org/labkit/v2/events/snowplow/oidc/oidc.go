// Package oidc is a compile-only stand-in for labkit/v2's snowplow OIDC token source.
package oidc

type options struct{ skipIfUnsupportedCloud bool }

type Option func(*options)

func WithSkipIfUnsupportedCloud(skip bool) Option {
	return func(o *options) { o.skipIfUnsupportedCloud = skip }
}

// Source would fetch cloud identity tokens; the stub never does.
type Source struct{}

func NewSource(...Option) *Source { return &Source{} }
