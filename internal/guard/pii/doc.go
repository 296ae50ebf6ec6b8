// SPDX-License-Identifier: Apache-2.0

// Package pii detects personal data in free text: e-mail addresses, phone
// numbers, payment card numbers, IBANs, US social security numbers and IP
// addresses.
//
// Every detector is a hand-written scanner rather than a regular
// expression. A guard runs on every prompt and every streamed response, so
// clean text must cost a few microseconds per kilobyte: each scanner first
// looks for a cheap anchor ('@' for e-mail, a digit run for numbers, ':'
// for IPv6) and only then parses and validates. Validation is strict on
// purpose (Luhn for cards, mod-97 and the per-country length for IBANs,
// the SSA area/group/serial rules for SSNs, octet ranges for IPv4), and
// look-alikes such as hashes, UUIDs, version strings, ISBNs and
// timestamps are rejected; see docs/pii-secrets.md for the policy.
package pii
