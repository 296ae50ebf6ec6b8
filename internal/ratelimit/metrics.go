// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/telemetry"
)

// metrics are registered through telemetry.Register so that stores and
// stages rebuilt on reload keep counting into the same series.
type metrics struct {
	storeUp       *prometheus.GaugeVec
	storeErrors   *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec
	failOpen      *prometheus.CounterVec
	unreserved    *prometheus.CounterVec
	settleErrors  *prometheus.CounterVec
}

// storeBuckets span an in-process decision to a Redis timeout.
var storeBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		storeUp: telemetry.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bulwark_limit_store_up", Help: "1 while the limit store answers, 0 after a failure until it answers again.",
		}, []string{"store"})),
		storeErrors: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_limit_store_errors_total", Help: "Limit store calls that failed, by store and operation (acquire|settle).",
		}, []string{"store", "op"})),
		storeDuration: telemetry.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bulwark_limit_store_duration_seconds", Help: "Round-trip time of limit store calls, by store and operation.",
			Buckets: storeBuckets,
		}, []string{"store", "op"})),
		failOpen: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_limit_fail_open_total", Help: "Requests allowed without a limit decision because the store was unreachable and failureMode is open, by route.",
		}, []string{"route"})),
		unreserved: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_limit_unreserved_tokens_total", Help: "Tokens used beyond what was reserved before forwarding (prompt underestimated or the upstream ignored max_tokens), by route. Bounds the overshoot of token limits.",
		}, []string{"route"})),
		settleErrors: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_limit_settle_failures_total", Help: "Requests whose reservation could not be settled (the reservation stays charged; leases expire), by route.",
		}, []string{"route"})),
	}
}
