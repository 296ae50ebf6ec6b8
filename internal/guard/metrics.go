// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/telemetry"
)

type metrics struct {
	hits      *prometheus.CounterVec
	remoteErr *prometheus.CounterVec
	unscanned *prometheus.CounterVec
	seconds   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		hits: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_guard_hits_total",
			Help: "Requests on which a guard fired, by direction (input|output), guard name, detector and action (block|redact|mask|detect).",
		}, []string{"direction", "guard", "detector", "action"})),
		remoteErr: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_guard_remote_failures_total",
			Help: "Remote guard calls that failed or timed out, by guard and failure mode (open: forwarded; closed: refused).",
		}, []string{"guard", "failure_mode"})),
		unscanned: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_guard_unscannable_total",
			Help: "Requests or responses refused because the guards could not read them, by direction.",
		}, []string{"direction"})),
		seconds: telemetry.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bulwark_guard_duration_seconds",
			Help:    "Time spent in one guard per request (input) or per response (output, summed over chunks), by direction, guard and detector.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .5, 1},
		}, []string{"direction", "guard", "detector"})),
	}
}

func (m *metrics) observe(dir string, g *guard, d time.Duration) {
	m.seconds.WithLabelValues(dir, g.name, g.detector).Observe(d.Seconds())
}
