// SPDX-License-Identifier: Apache-2.0

// Package telemetry holds Bulwark's Prometheus metrics, OpenTelemetry
// tracing and slog setup. Metrics are created once per process and survive
// config reloads; stages register theirs through Register, which hands back
// the already-registered collector on a rebuild.
package telemetry
