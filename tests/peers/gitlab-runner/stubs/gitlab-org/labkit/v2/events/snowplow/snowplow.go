// Package snowplow is a stand-in for labkit/v2's Snowplow billing-event client, which
// the Go module proxy does not serve. Usage logging to Snowplow is a GitLab.com billing
// feature; the test build refuses to create an emitter, so a config that enables it
// fails loudly instead of silently dropping events.
package snowplow

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"gitlab.com/gitlab-org/labkit/v2/events/snowplow/metrics"
	"gitlab.com/gitlab-org/labkit/v2/events/snowplow/oidc"
)

var ErrEmitterStopped = errors.New("snowplow emitter stopped")

var errDisabled = errors.New("snowplow usage logging is not available in the phaedo test build")

type SendResult struct {
	EventCount int
	StatusCode int
	Err        error
}

type SendCallback func(successes []SendResult, failures []SendResult)

type emitterOptions struct{}

type EmitterOption func(*emitterOptions)

func WithCallback(SendCallback) EmitterOption    { return func(*emitterOptions) {} }
func WithTokenSource(*oidc.Source) EmitterOption { return func(*emitterOptions) {} }
func WithMetricsCollectorOptions(...metrics.CollectorOption) EmitterOption {
	return func(*emitterOptions) {}
}

type Emitter struct{}

func NewEmitter(string, ...EmitterOption) (*Emitter, error) { return nil, errDisabled }

func (e *Emitter) Collector() prometheus.Collector { return nil }

type Tracker struct{}

func NewTracker(string, *Emitter) (*Tracker, error) { return nil, errDisabled }

func (t *Tracker) Stop() {}

type BillingEventRequiredInput struct {
	Category      string
	EventType     string
	Realm         string
	UnitOfMeasure string
	Quantity      float64
}

type BillingEventOptionalInput struct {
	Subject          string
	DeploymentType   string
	Metadata         map[string]any
	InstanceID       string
	UniqueInstanceID string
	ProjectID        int64
	NamespaceID      int64
	RootNamespaceID  int64
	OrganizationID   int64
}

func (t *Tracker) TrackBillingEventWithOptionalInput(BillingEventRequiredInput, BillingEventOptionalInput) error {
	return errDisabled
}
