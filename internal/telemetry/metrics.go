// SPDX-License-Identifier: Apache-2.0

package telemetry

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// Register registers c with reg, or returns the collector already
// registered under the same descriptor, so that stages rebuilt on reload
// keep counting into the same series.
func Register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		panic(err) // a programming error: two metrics with one name and different shapes
	}
	return c
}

// Latency buckets span sub-millisecond gateway overhead to multi-minute
// generations.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Metrics are the gateway's core series. One instance per process.
type Metrics struct {
	Registry *prometheus.Registry

	requests        *prometheus.CounterVec
	denials         *prometheus.CounterVec
	detections      *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	ttfb            *prometheus.HistogramVec
	upstream        *prometheus.HistogramVec
	tokens          *prometheus.CounterVec
	Reloads         *prometheus.CounterVec
	ConfigTimestamp prometheus.Gauge
	EndpointHealthy *prometheus.GaugeVec
	Inflight        prometheus.Gauge
}

// NewMetrics creates the registry with Go/process collectors and the core
// series.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{Registry: reg}
	m.requests = Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulwark_requests_total", Help: "Requests by route, status code and decision (allow|deny).",
	}, []string{"route", "status", "decision"}))
	m.denials = Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulwark_denials_total", Help: "Denied requests by route, stage and rule.",
	}, []string{"route", "stage", "rule"}))
	m.detections = Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulwark_detections_total", Help: "Decisions taken in detect mode (recorded, not enforced) by route, stage and rule.",
	}, []string{"route", "stage", "rule"}))
	m.duration = Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bulwark_request_duration_seconds", Help: "Time from request arrival to the end of the response, by route.",
		Buckets: latencyBuckets,
	}, []string{"route"}))
	m.ttfb = Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bulwark_time_to_first_byte_seconds", Help: "Time from request arrival to the first response byte sent to the client (TTFT for streams), by route.",
		Buckets: latencyBuckets,
	}, []string{"route"}))
	m.upstream = Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bulwark_upstream_duration_seconds", Help: "Time from sending upstream to the upstream's response headers, by upstream.",
		Buckets: latencyBuckets,
	}, []string{"upstream"}))
	m.tokens = Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulwark_tokens_total", Help: "LLM tokens by route, model and kind (prompt|completion), as reported by the upstream on successful responses.",
	}, []string{"route", "model", "kind"}))
	m.Reloads = Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulwark_config_reloads_total", Help: "Config reload attempts by result (success|failure).",
	}, []string{"result"}))
	m.ConfigTimestamp = Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "bulwark_config_last_reload_success_timestamp_seconds", Help: "Unix time of the last successful config load.",
	}))
	m.EndpointHealthy = Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bulwark_upstream_endpoint_healthy", Help: "1 if the endpoint is taking traffic, else 0.",
	}, []string{"upstream", "endpoint"}))
	m.Inflight = Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "bulwark_requests_in_flight", Help: "Requests being served.",
	}))
	m.Reloads.WithLabelValues("success")
	m.Reloads.WithLabelValues("failure")
	return m
}

// ObserveUpstream records the upstream header latency.
func (m *Metrics) ObserveUpstream(upstream string, d time.Duration) {
	m.upstream.WithLabelValues(upstream).Observe(d.Seconds())
}

// Observe implements pipeline.Observer.
func (m *Metrics) Observe(rc *pipeline.RequestContext) {
	route := "none"
	if rc.Route != nil {
		route = rc.Route.Name
	}
	m.requests.WithLabelValues(route, statusLabel(rc.Status), rc.Outcome()).Inc()
	if d := rc.Decision; d != nil {
		m.denials.WithLabelValues(route, d.Stage, d.Rule).Inc()
	}
	for _, d := range rc.Detected {
		m.detections.WithLabelValues(route, d.Stage, d.Rule).Inc()
	}
	m.duration.WithLabelValues(route).Observe(time.Since(rc.Start).Seconds())
	if t := rc.TTFB(); t > 0 {
		m.ttfb.WithLabelValues(route).Observe(t.Seconds())
	}
	// Model names come from clients; only count them once the upstream has
	// accepted the request, which bounds the label to models that exist.
	if rc.LLM != nil && rc.Status >= 200 && rc.Status < 300 && rc.Usage.Total() > 0 {
		if rc.Usage.PromptTokens > 0 {
			m.tokens.WithLabelValues(route, rc.LLM.Model, "prompt").Add(float64(rc.Usage.PromptTokens))
		}
		if rc.Usage.CompletionTokens > 0 {
			m.tokens.WithLabelValues(route, rc.LLM.Model, "completion").Add(float64(rc.Usage.CompletionTokens))
		}
	}
}

var statusLabels = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}
