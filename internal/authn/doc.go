// SPDX-License-Identifier: Apache-2.0

// Package authn is the identity stage: it proves who is calling from an
// mTLS client certificate, an API key (stored only as its SHA-256) or a
// JWT verified against a JWKS, and strips the client's credentials so the
// upstream never sees them.
package authn
