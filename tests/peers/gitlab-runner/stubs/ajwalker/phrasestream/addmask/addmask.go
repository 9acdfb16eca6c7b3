// Package addmask is a stand-in for gitlab.com/ajwalker/phrasestream/addmask, which the
// Go module proxy does not serve. Upstream it masks phrases added at run time (the
// `proxy-exec` helper command); the test build does not register that command, so the
// stub passes output through unmasked.
package addmask

import "io"

type AddMask struct {
	writers [2]io.Writer
}

// New takes the runner's phrase store as `any` so the stub needs no dependencies.
func New(store any, stdout, stderr io.Writer) (*AddMask, error) {
	return &AddMask{writers: [2]io.Writer{stdout, stderr}}, nil
}

func (a *AddMask) Get(i int) io.Writer { return a.writers[i] }

func (a *AddMask) Close() error { return nil }
