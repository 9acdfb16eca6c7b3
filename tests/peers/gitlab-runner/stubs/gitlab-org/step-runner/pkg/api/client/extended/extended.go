// Package extended is a stand-in for step-runner's streaming client. New always fails,
// so a job that needs a step-runner fails with client.ErrNotSupported.
package extended

import (
	"context"
	"io"

	"gitlab.com/gitlab-org/step-runner/pkg/api/client"
)

type FollowOutput struct {
	Logs io.Writer
}

type Client struct{}

// New takes the runner's gRPC dialer as `any` so the stub needs no gRPC dependency.
func New(dialer any) (*Client, error) { return nil, client.ErrNotSupported }

func (c *Client) CloseConn() error { return nil }

func (c *Client) Cancel(ctx context.Context, id string) error { return client.ErrNotSupported }

func (c *Client) RunAndFollow(ctx context.Context, req *client.RunRequest, out *FollowOutput) (client.Status, error) {
	return client.Status{}, client.ErrNotSupported
}
