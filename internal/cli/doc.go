// SPDX-License-Identifier: Apache-2.0

// Package cli is the bulwark command line. Every command returns an error
// instead of exiting, so tests drive it exactly as users do.
package cli
