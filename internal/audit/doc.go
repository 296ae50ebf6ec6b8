// SPDX-License-Identifier: Apache-2.0

// Package audit writes one JSON line per request: who asked what, when,
// what Bulwark decided and what it cost. Prompts appear only as the config
// allows (none, hash, redacted); credentials never do.
package audit
