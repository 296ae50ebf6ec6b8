// SPDX-License-Identifier: Apache-2.0

// Package pipeline is the shape every request takes through Bulwark: an
// immutable Pipeline, built once per config, holding routes whose typed
// stages (identity, access, WAF, limits, guards) inspect a RequestContext
// and return a Decision or an error. An error fails closed. The Pipeline is
// published through an atomic pointer and swapped whole on reload.
package pipeline
