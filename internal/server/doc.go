// SPDX-License-Identifier: Apache-2.0

// Package server runs Bulwark: it compiles a config into a pipeline,
// serves it on the gateway listener (HTTP or TLS/mTLS) beside the admin
// listener, swaps pipelines on reload (file change or SIGHUP) and shuts
// down gracefully.
package server
