// SPDX-License-Identifier: Apache-2.0

// Package config defines Bulwark's policy file: one YAML document with
// camelCase keys, decoded strictly (unknown or duplicate keys are errors) so
// a typo in security policy never silently weakens it. Defaults are filled in
// one place (applyDefaults) and Validate reports every problem with its field
// path.
package config
