// SPDX-License-Identifier: Apache-2.0

package pii

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

// Entity types reported by this package.
const (
	Email      = "EMAIL"
	Phone      = "PHONE"
	CreditCard = "CREDIT_CARD"
	IBAN       = "IBAN"
	USSSN      = "US_SSN"
	IPAddress  = "IP_ADDRESS"
)

// allTypes is in merge-preference order: when two types claim exactly the
// same range, the earlier one wins (a dashed 3-2-4 number is an SSN before
// it is a phone number; a dotted quad is an IP before it is a phone).
var allTypes = []string{Email, IBAN, CreditCard, USSSN, IPAddress, Phone}

// Types returns the names New accepts, in preference order.
func Types() []string { return slices.Clone(allTypes) }

// maxLen is the widest window any finding depends on: an e-mail address
// (64-byte local part, '@', 253-byte domain) plus the look-behind used to
// tell URL user-info from an address. Phone numbers (value plus a 48-byte
// context look-behind and a short label look-ahead) and the rest are far
// shorter.
const maxLen = 512

// Detector finds PII. The zero value finds nothing; use New.
type Detector struct {
	email, phone, card, iban, ssn, ip bool
	types                             []string
}

var _ entity.Detector = (*Detector)(nil)

// New returns a Detector for the given entity types, or for all of them if
// none are given. Names are case-insensitive; an unknown name is an error
// that lists the valid ones.
func New(types ...string) (*Detector, error) {
	d := &Detector{}
	if len(types) == 0 {
		types = allTypes
	}
	var unknown []string
	for _, t := range types {
		switch strings.ToUpper(strings.TrimSpace(t)) {
		case Email:
			d.email = true
		case Phone:
			d.phone = true
		case CreditCard:
			d.card = true
		case IBAN:
			d.iban = true
		case USSSN:
			d.ssn = true
		case IPAddress:
			d.ip = true
		default:
			unknown = append(unknown, fmt.Sprintf("%q", t))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown pii type %s (valid: %s)", strings.Join(unknown, ", "), strings.Join(allTypes, ", "))
	}
	for _, t := range allTypes {
		if d.enabled(t) {
			d.types = append(d.types, t)
		}
	}
	return d, nil
}

func (d *Detector) enabled(t string) bool {
	switch t {
	case Email:
		return d.email
	case Phone:
		return d.phone
	case CreditCard:
		return d.card
	case IBAN:
		return d.iban
	case USSSN:
		return d.ssn
	case IPAddress:
		return d.ip
	}
	return false
}

// Types returns the configured entity types.
func (d *Detector) Types() []string { return slices.Clone(d.types) }

// MaxLen implements entity.Detector.
func (d *Detector) MaxLen() int { return maxLen }

// Find implements entity.Detector.
func (d *Detector) Find(text string, dst []entity.Finding) []entity.Finding {
	n := len(dst)
	if d.email {
		dst = findEmails(text, dst)
	}
	if d.iban || d.card || d.ssn || d.ip || d.phone {
		dst = d.findNumbers(text, dst)
	}
	if d.ip {
		dst = findIPv6(text, dst)
	}
	merged := entity.Merge(dst[n:])
	return dst[:n+len(merged)]
}

// findNumbers visits every digit run once and offers it to each enabled
// number-shaped scanner. Each scanner remembers where its last finding
// ended so it never re-matches inside its own finding.
func (d *Detector) findNumbers(text string, dst []entity.Finding) []entity.Finding {
	var nextIBAN, nextCard, nextSSN, nextIP, nextPhone int
	for i := 0; i < len(text); i++ {
		if i = nextDigit(text, i); i < 0 {
			break
		}
		j := i + 1
		for j < len(text) && isDigit(text[j]) {
			j++
		}
		if d.iban && i >= 2 && i-2 >= nextIBAN {
			if e, ok := matchIBAN(text, i-2); ok {
				dst = append(dst, entity.Finding{Start: i - 2, End: e, Type: IBAN})
				nextIBAN = e
			}
		}
		// Fast path for the numbers prose is full of ("2025", "14,", "35%"):
		// a run of fewer than six digits that is not followed by a
		// separator leading on to more digits (or a parenthesised group)
		// cannot start a card, SSN, IP address or phone number.
		if j-i < 6 && !continuesNumber(text, j) {
			i = j - 1
			continue
		}
		if d.card && i >= nextCard {
			if e, ok := matchCard(text, i); ok {
				dst = append(dst, entity.Finding{Start: i, End: e, Type: CreditCard})
				nextCard = e
			}
		}
		if d.ssn && i >= nextSSN {
			if e, ok := matchSSN(text, i); ok {
				dst = append(dst, entity.Finding{Start: i, End: e, Type: USSSN})
				nextSSN = e
			}
		}
		if d.ip && i >= nextIP {
			if e, ok := matchIPv4(text, i); ok {
				dst = append(dst, entity.Finding{Start: i, End: e, Type: IPAddress})
				nextIP = e
			}
		}
		if d.phone && i >= nextPhone {
			if s, e, ok := matchPhone(text, i); ok && s >= nextPhone {
				dst = append(dst, entity.Finding{Start: s, End: e, Type: Phone})
				nextPhone = e
			}
		}
		// Skip the rest of this digit run: scanners only start at run starts.
		i = j - 1
	}
	return dst
}

// continuesNumber reports whether the digit run ending at j goes on as a
// grouped number: "(" or ")", or one of " -." followed by a digit or "(".
func continuesNumber(text string, j int) bool {
	if j >= len(text) {
		return false
	}
	switch text[j] {
	case ')', '(':
		return true
	case ' ', '-', '.':
		return j+1 < len(text) && (isDigit(text[j+1]) || text[j+1] == '(')
	}
	return false
}

// nextDigit returns the index of the first ASCII digit in text at or after
// i, or -1. It tests eight bytes at a time: prompts are mostly letters, so
// this loop is where clean text spends its time.
func nextDigit(text string, i int) int {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
		low7 = 0x7f7f7f7f7f7f7f7f
	)
	for ; i+8 <= len(text); i += 8 {
		x := uint64(text[i]) | uint64(text[i+1])<<8 | uint64(text[i+2])<<16 | uint64(text[i+3])<<24 |
			uint64(text[i+4])<<32 | uint64(text[i+5])<<40 | uint64(text[i+6])<<48 | uint64(text[i+7])<<56
		// Per byte b < 0x80: set the high bit iff '0' <= b <= '9'
		// ("hasbetween" from Sean Anderson's bit hacks); bytes >= 0x80 are
		// masked out by ^x.
		t := x & low7
		if (ones*(127+'9'+1)-t)&^x&(t+ones*(127-('0'-1)))&high != 0 {
			break
		}
	}
	for ; i < len(text); i++ {
		if isDigit(text[i]) {
			return i
		}
	}
	return -1
}
