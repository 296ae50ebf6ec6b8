// SPDX-License-Identifier: Apache-2.0

// Package access is the authorization stage: per-route rules saying which
// identities and tenants may use which models.
package access
