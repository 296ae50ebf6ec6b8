// SPDX-License-Identifier: Apache-2.0

// Package proxy forwards admitted requests to upstream endpoints through
// httputil.ReverseProxy: least-in-flight balancing over healthy endpoints,
// active and passive health, upstream credentials, error mapping
// (502/503/504), and usage accounting on JSON and SSE responses without
// buffering streams.
package proxy
