// SPDX-License-Identifier: Apache-2.0

package pii

// ssnContext are words that make an undashed nine-digit number (or one
// split by spaces) an SSN. The dashed form AAA-GG-SSSS is distinctive
// enough to stand alone.
var ssnContext = []keyword{
	{"ssn", true}, {"social security", false}, {"ss#", false}, {"ss #", false},
	{"ss no", false}, {"social sec", true}, {"taxpayer", true}, {"tin", false},
}

// matchSSN parses AAA-GG-SSSS, or AAA GG SSSS / AAAGGSSSS when an SSN
// keyword appears in the 48 bytes before it, and applies the SSA rules:
// area not 000, 666 or 900-999; group not 00; serial not 0000; and none of
// the numbers the SSA voided after they were published (078-05-1120, the
// Woolworth wallet card; 219-09-9999, an SSA pamphlet) or that are common
// placeholders (123-45-6789).
func matchSSN(text string, i int) (end int, ok bool) {
	if !numberStartOK(text, i) || i+9 > len(text) {
		return 0, false
	}
	var d [9]byte
	p := i
	var sep byte
	for k, n := range [3]int{3, 2, 4} {
		if k > 0 {
			c := text[p]
			switch {
			case k == 1 && (c == '-' || c == ' '):
				sep = c
				p++
			case k == 2 && sep != 0 && c == sep:
				p++
			case sep != 0:
				return 0, false
			}
		}
		for range n {
			if p >= len(text) || !isDigit(text[p]) {
				return 0, false
			}
			p++
		}
	}
	if !numberEndOK(text, p) || p < len(text) && (text[p] == ' ' || text[p] == '-') && p+1 < len(text) && isDigit(text[p+1]) {
		return 0, false
	}
	n := 0
	for k := i; k < p; k++ {
		if isDigit(text[k]) {
			d[n] = text[k]
			n++
		}
	}
	if sep != '-' && !hasKeyword(text, max(0, i-48), i, ssnContext) {
		return 0, false
	}
	if !validSSN(d) {
		return 0, false
	}
	return p, true
}

func validSSN(d [9]byte) bool {
	area := int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	group := int(d[3]-'0')*10 + int(d[4]-'0')
	serial := int(d[5]-'0')*1000 + int(d[6]-'0')*100 + int(d[7]-'0')*10 + int(d[8]-'0')
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return false
	}
	switch string(d[:]) {
	case "078051120", "219099999", "123456789":
		return false
	}
	return true
}
