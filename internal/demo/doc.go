// SPDX-License-Identifier: Apache-2.0

// Package demo is what `bulwark serve --demo` runs: an embedded policy and
// a built-in OpenAI-compatible upstream, so the gateway can be tried with
// nothing else installed. Tests use the same upstream.
package demo
