// SPDX-License-Identifier: Apache-2.0

package pii

// matchCard parses a payment card number starting at the digit run at i:
// 13-19 digits, either unbroken or in groups separated by one consistent
// space or dash ("4111 1111 1111 1111", "3782-822463-10005"). The number
// must pass Luhn and start with an issuer prefix of a real scheme, which
// rejects most order numbers, ISBNs (978/979) and millisecond timestamps
// (1xxxxxxxxxxxx, 13 digits) that happen to pass Luhn.
//
// When the grouped run goes on past a valid card ("4111 1111 1111 1111
// 12/26") the longest valid prefix of whole groups followed by a space is
// taken, so an expiry date written after the number does not hide it.
func matchCard(text string, i int) (end int, ok bool) {
	if !numberStartOK(text, i) {
		return 0, false
	}
	// Never start inside a grouped run ("1234 5678 9012 3456 7890 ..."):
	// sliding a 16-digit window along a table of numbers would find a
	// Luhn-valid one one time in ten.
	if i >= 2 && (text[i-1] == ' ' || text[i-1] == '-') && isDigit(text[i-2]) {
		return 0, false
	}
	var digits [19]byte
	var groupEnd [20]int // byte offset after each group
	var groupLen [20]int
	nd, ng := 0, 0
	var sep byte
	p := i
	for {
		q := p
		for q < len(text) && isDigit(text[q]) {
			if nd < len(digits) {
				digits[nd] = text[q]
			}
			nd++
			q++
		}
		if nd > 19 {
			break
		}
		groupEnd[ng], groupLen[ng] = q, q-p
		ng++
		if q+1 >= len(text) || !isDigit(text[q+1]) || ng == len(groupEnd) {
			break
		}
		c := text[q]
		if c != ' ' && c != '-' || sep != 0 && c != sep {
			break
		}
		sep = c
		p = q + 1
	}
	// Try whole-group prefixes, longest first.
	total := 0
	for g := range ng {
		total += groupLen[g]
	}
	for g := ng - 1; g >= 0; g-- {
		n := total
		total -= groupLen[g]
		if n < 13 || n > 19 {
			continue
		}
		if g > 0 && !cardGroups(groupLen[:g+1]) {
			continue
		}
		e := groupEnd[g]
		full := g == ng-1 && nd <= 19
		if full {
			if !numberEndOK(text, e) {
				continue
			}
		} else if text[e] != ' ' {
			continue
		}
		if cardIIN(digits[:n]) && luhn(digits[:n]) {
			return e, true
		}
	}
	return 0, false
}

// cardGroups accepts the way cards are printed: a first group of four,
// then groups of two to seven digits (4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3).
func cardGroups(lens []int) bool {
	if lens[0] != 4 {
		return false
	}
	for _, l := range lens[1:] {
		if l < 2 || l > 7 {
			return false
		}
	}
	return true
}

// cardIIN checks the issuer identification prefix and, where the scheme
// fixes it, the length.
func cardIIN(d []byte) bool {
	n := len(d)
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	switch d[0] {
	case '1': // UATP
		return n == 15
	case '2':
		switch {
		case p4 >= 2221 && p4 <= 2720: // Mastercard 2-series
			return n == 16
		case p4 >= 2200 && p4 <= 2204: // Mir
			return n >= 16
		case p4 == 2131: // JCB
			return n == 15 || n == 16
		}
		return false
	case '3':
		switch {
		case p2 == 34 || p2 == 37: // American Express
			return n == 15
		case p2 == 30 || p2 == 36 || p2 == 38 || p2 == 39: // Diners Club
			return n >= 14
		case p2 == 35: // JCB (issued 3528-3589; the rest of 35 is JCB's block)
			return n >= 16
		}
		return false
	case '4': // Visa
		return n == 13 || n == 16 || n == 19
	case '5':
		if p2 >= 51 && p2 <= 55 { // Mastercard
			return n == 16
		}
		return true // Maestro (50, 56-59)
	case '6': // Discover, UnionPay, Maestro, RuPay, Troy, InstaPayment...
		return true
	case '8': // RuPay
		return (p2 == 81 || p2 == 82) && n == 16
	case '9': // Troy
		return p4 == 9792 && n == 16
	}
	return false
}

// luhn reports whether the ASCII digits d pass the Luhn check.
func luhn(d []byte) bool {
	sum, dbl := 0, false
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k] - '0')
		if dbl {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		dbl = !dbl
	}
	return sum%10 == 0
}
