// SPDX-License-Identifier: Apache-2.0

package pii

import "github.com/bulwarkai/bulwark/internal/guard/entity"

var _ entity.Pender = (*Detector)(nil)

// numberReach bounds how far past the first digit of a number-shaped
// finding the text deciding it reaches: the number itself (a phone number
// with its extension is under 64 bytes, an IBAN with spaces under 48) and
// what is read after it (a label, or up to three words naming a street).
const numberReach = 192

// Pending implements entity.Pender. Text is settled up to the earlier of:
//
//   - the start of the trailing run of non-space bytes, where an e-mail
//     address, an IPv6 address or a number may still be growing (at most
//     maxLen back: no such value is longer);
//   - with a number type enabled, a few bytes before the first digit in
//     the last numberReach bytes, since a number's groups are separated
//     by spaces and a phone number is judged by the words after it.
func (d *Detector) Pending(text string) int {
	n := len(text)
	p := n
	if d.email || d.ip || d.iban || d.card || d.ssn || d.phone {
		for p > 0 && n-p < maxLen && !isSpace(text[p-1]) {
			p--
		}
	}
	if d.iban || d.card || d.ssn || d.ip || d.phone {
		if q := nextDigit(text, max(0, n-numberReach)); q >= 0 {
			// A match starts at most two bytes before its first digit
			// run: an IBAN's country code, a phone's "+" or "(".
			p = min(p, max(0, q-4))
		}
	}
	return p
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
