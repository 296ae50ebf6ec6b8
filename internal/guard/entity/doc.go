// SPDX-License-Identifier: Apache-2.0

// Package entity defines the vocabulary shared by Bulwark's PII and secret
// detectors and the redaction layer: a Finding is a typed byte range in a
// scanned string, and a Detector produces Findings.
//
// The types live in their own package so that the guard stage, the
// detectors (packages pii and secrets) and the redactor (package redact) can
// depend on one small contract instead of on each other.
package entity
