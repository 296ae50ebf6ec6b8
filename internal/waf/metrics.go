// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/telemetry"
)

// metrics are shared by every WAF stage of the process: telemetry.Register
// hands a rebuilt stage the collectors already registered, so series
// survive reloads.
type metrics struct {
	// matches counts matched rules: CRS rule ids, and the AI checks as
	// "bulwark:<check>". Both sets are closed, so the label is bounded.
	matches *prometheus.CounterVec
	// requests counts inspected requests by outcome.
	requests *prometheus.CounterVec
	// verdicts counts verdict cache lookups by result (hit|miss).
	verdicts *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry() // a stage built without metrics still counts, privately
	}
	return &metrics{
		matches: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_waf_rule_matches_total",
			Help: "WAF rule matches by route, rule (CRS rule id, or bulwark:<check> for the AI checks) and mode (block|detect).",
		}, []string{"route", "rule", "mode"})),
		requests: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_waf_requests_total",
			Help: "Requests inspected by the WAF by route, mode (block|detect) and action (allow|block|detect).",
		}, []string{"route", "mode", "action"})),
		verdicts: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_waf_verdict_cache_total",
			Help: "CRS verdict cache lookups by route and result (hit|miss).",
		}, []string{"route", "result"})),
	}
}
