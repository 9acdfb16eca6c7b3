// Package metrics is a compile-only stand-in for labkit/v2's snowplow collector metrics.
package metrics

type collectorOptions struct {
	namespace string
	buckets   []float64
}

type CollectorOption func(*collectorOptions)

func WithCollectorNamespace(ns string) CollectorOption {
	return func(o *collectorOptions) { o.namespace = ns }
}

func WithCollectorBatchDeliveryDurationBuckets(b []float64) CollectorOption {
	return func(o *collectorOptions) { o.buckets = b }
}
