// SPDX-License-Identifier: Apache-2.0

package pii

// Phone numbers come in two tiers.
//
// Strong shapes are reported on their own: international numbers written
// with a leading '+' (E.164 and its printed forms, "+46 (0)8 928 571 38")
// and North American numbers whose area code and exchange are valid
// ("(415) 555-0132", "415.555.0132", "+1-415-555-0132x12").
//
// Everything else that is shaped like a phone number (national formats
// such as "0490 75 40 81", "06-10446904", "(37) 788-063", ten bare digits)
// is indistinguishable from prices, counts and reference numbers without
// context, so it is reported only next to a phone word: one of
// phoneContext in the 48 bytes before it (not crossing another number),
// or a label such as "office" or "fax" right after it.
var phoneContext = []keyword{
	{"phone", true}, {"telephon", true}, {"telefon", true}, {"teléfono", false}, {"tel", false},
	{"tél", false}, {"ph", false}, {"mobile", true}, {"mob", false}, {"móvil", false}, {"movil", false},
	{"cell", false}, {"cellphone", true}, {"cellular", false}, {"celular", false},
	{"fax", true}, {"call", true}, {"dial", false}, {"dialing", false}, {"dialling", false},
	{"contact", true}, {"sms", false}, {"whatsapp", true}, {"messag", true},
	{"text me", false}, {"text us", false}, {"ring me", false}, {"ring us", false},
	{"reach me", false}, {"reach us", false}, {"reach you", false}, {"reach him", false},
	{"reach her", false}, {"reach them", false}, {"answering", false},
	{"landline", true}, {"hotline", true}, {"desk", false}, {"office", false}, {"ext", false},
}

// phoneLabels may follow a number: "416 60 039 office", "07700 063 966-Fax".
var phoneLabels = []keyword{
	{"office", false}, {"fax", false}, {"mobile", false}, {"cell", false}, {"home", false},
	{"work", false}, {"desk", false}, {"phone", false}, {"tel", false}, {"landline", false},
}

// phoneShape is what the parser learned about a candidate.
type phoneShape struct {
	plus   bool // written with a leading '+'
	digits int  // digits outside the extension
	groups int  // digit groups
	gpos   [16]int
	glen   [16]int
	// seps[k] is what separates group k from group k+1: ' ', '-', '.',
	// ')' after a parenthesised group, '(' before one.
	seps [16]byte
}

// matchPhone parses a phone number whose first digit run starts at i. The
// match may start at a '+' or '(' just before i.
func matchPhone(text string, i int) (start, end int, ok bool) {
	s := i
	var sh phoneShape
	open := false
	if s > 0 && text[s-1] == '+' {
		s--
		sh.plus = true
	} else if s > 0 && text[s-1] == '(' {
		s--
		open = true
	}
	if !numberStartOK(text, s) {
		return 0, 0, false
	}
	if s > 0 && text[s-1] == '/' {
		return 0, 0, false // a path or a product version: "Chrome/110.0.5481.154"
	}
	p, parens := i, 0
	if open {
		parens++
	}
	for {
		q := p
		for q < len(text) && isDigit(text[q]) {
			q++
		}
		if q == p || sh.groups == len(sh.glen) {
			return 0, 0, false
		}
		sh.gpos[sh.groups], sh.glen[sh.groups] = p, q-p
		sh.groups++
		sh.digits += q - p
		if sh.digits > 15 {
			return 0, 0, false
		}
		p = q
		closed := false
		if open {
			if p >= len(text) || text[p] != ')' {
				return 0, 0, false
			}
			p++
			open, closed = false, true
		}
		end = p
		if p >= len(text) {
			break
		}
		// Separator: one of " -." (optional after a ')'), then either
		// digits or a parenthesised group such as "(0)" or "(415)".
		sep, n := byte(0), p
		if c := text[p]; c == ' ' || c == '-' || c == '.' {
			sep, n = c, p+1
		}
		if !closed && (sep == 0 || sep == ' ') && parens < 2 &&
			n+1 < len(text) && text[n] == '(' && isDigit(text[n+1]) {
			sh.seps[sh.groups-1] = '('
			open = true
			parens++
			p = n + 1
			continue
		}
		if n < len(text) && isDigit(text[n]) && (sep != 0 || closed) {
			if closed {
				sep = ')'
			}
			sh.seps[sh.groups-1] = sep
			p = n
			continue
		}
		break
	}
	if open {
		return 0, 0, false
	}
	end = phoneExtension(text, end)
	if !numberEndOK(text, end) || !sh.plausible() {
		return 0, 0, false
	}
	if end+1 < len(text) && text[end] == ':' && isDigit(text[end+1]) {
		return 0, 0, false // a time ("2001-11-23 15:02") or a port
	}
	if end+1 < len(text) && text[end] == ' ' && isDigit(text[end+1]) {
		// More digits after the extension: part of a longer run we do not
		// understand. (Without an extension the loop above would have
		// taken them.) Rejecting keeps matches from chaining, which would
		// make a finding depend on text far before it.
		return 0, 0, false
	}
	if sh.strong(text) {
		return s, end, true
	}
	if sh.plus || !phoneContextAround(text, s, end) || beforeStreetName(text, end) {
		return 0, 0, false
	}
	return s, end, true
}

// phoneExtension extends end over an extension: "x123", " x123",
// " ext. 123", "ext123".
func phoneExtension(text string, end int) int {
	p := end
	if p < len(text) && text[p] == ' ' {
		p++
	}
	switch {
	case hasPrefixFold(text[p:], "extension"):
		p += len("extension")
	case hasPrefixFold(text[p:], "ext"):
		p += 3
		if p < len(text) && text[p] == '.' {
			p++
		}
	case p < len(text) && (text[p] == 'x' || text[p] == 'X'):
		p++
	default:
		return end
	}
	if p < len(text) && text[p] == ' ' {
		p++
	}
	q := p
	for q < len(text) && isDigit(text[q]) && q-p < 7 {
		q++
	}
	if q == p || q-p > 6 {
		return end
	}
	return q
}

// plausible rejects shapes that are something else: dotted quads (IP
// addresses), decimals, dates and lone short groups.
func (sh *phoneShape) plausible() bool {
	if sh.digits < 6 {
		return false
	}
	allDots := sh.groups > 1
	for k := 0; k < sh.groups-1; k++ {
		if sh.seps[k] != '.' {
			allDots = false
		}
	}
	if allDots {
		if sh.groups == 2 {
			return false // a decimal number
		}
		for k := range sh.groups {
			if sh.glen[k] < 2 {
				return false // an IPv4 address or a version: "110.0.5481.154"
			}
		}
	}
	// A date, possibly followed by more numbers (a time): 2024-01-31,
	// 31.01.2024, 01-31-24, "2001-11-23 15".
	if sh.groups >= 3 && !sh.plus && sh.seps[0] == sh.seps[1] && (sh.seps[0] == '-' || sh.seps[0] == '.') {
		a, b, c := sh.glen[0], sh.glen[1], sh.glen[2]
		if a == 4 && b <= 2 && c <= 2 || a <= 2 && b <= 2 && (c == 4 || sh.groups == 3 && c == 2) {
			return false
		}
	}
	if sh.groups == 1 && !sh.plus && sh.digits < 7 {
		return false
	}
	return true
}

// strong reports whether the shape is a phone number without context:
// '+' and at least eight digits, or a valid North American number.
func (sh *phoneShape) strong(text string) bool {
	if sh.plus {
		return sh.digits >= 8 && text[sh.gpos[0]] != '0'
	}
	// [1|001] NXX NXX XXXX: area code and exchange start with 2-9, and the
	// separators agree ("415-555-0132", "415.555.0132", "(415) 555-0132").
	g := sh.groups
	if g < 3 || sh.glen[g-3] != 3 || sh.glen[g-2] != 3 || sh.glen[g-1] != 4 {
		return false
	}
	switch g {
	case 3:
	case 4:
		pre := text[sh.gpos[0] : sh.gpos[0]+sh.glen[0]]
		if pre != "1" && pre != "001" {
			return false
		}
	default:
		return false
	}
	if text[sh.gpos[g-3]] < '2' || text[sh.gpos[g-2]] < '2' {
		return false
	}
	s1, s2 := sh.seps[g-3], sh.seps[g-2]
	switch s1 {
	case ')':
		return s2 == '-' || s2 == ' ' || s2 == '.'
	case '-', '.', ' ':
		return s2 == s1
	}
	return false
}

// phoneContextAround looks for a phone word shortly before the number (not
// crossing another number) or a label right after it.
func phoneContextAround(text string, s, e int) bool {
	lo := max(0, s-48)
	for k := s - 1; k >= lo; k-- {
		if isDigit(text[k]) {
			lo = k + 1
			break
		}
	}
	if hasKeyword(text, lo, s, phoneContext) {
		return true
	}
	p := e
	for p < len(text) && p-e < 3 && (text[p] == ' ' || text[p] == '-' || text[p] == ':' || text[p] == ',' || text[p] == '(' || text[p] == '\t') {
		p++
	}
	return p < len(text) && isAlpha(text[p]) && (p == 0 || !isAlpha(text[p-1])) && hasKeyword(text, p, p+1, phoneLabels)
}

// streetTypes are words that make a preceding number a house number:
// "office is at 17031 2202 Rissik St", "taxi to 14 3684 Court Street".
var streetTypes = []keyword{
	{"st", false}, {"street", false}, {"rd", false}, {"road", false}, {"ave", false},
	{"avenue", false}, {"blvd", false}, {"boulevard", false}, {"ln", false}, {"lane", false},
	{"dr", false}, {"drive", false}, {"ct", false}, {"court", false}, {"pl", false},
	{"place", false}, {"way", false}, {"parkway", false}, {"pkwy", false}, {"hwy", false},
	{"highway", false}, {"sq", false}, {"square", false}, {"terrace", false}, {"crescent", false},
	{"straße", false}, {"strasse", false}, {"str", false}, {"rue", false}, {"via", false},
	{"calle", false}, {"avenida", false}, {"gasse", false}, {"weg", false},
}

// beforeStreetName reports whether one of the next three words after e, on
// the same line, is a street type.
func beforeStreetName(text string, e int) bool {
	p := e
	for w := 0; w < 3; w++ {
		if p >= len(text) || text[p] != ' ' {
			return false
		}
		p++
		ws := p
		for p < len(text) && (isAlpha(text[p]) || text[p] >= 0x80) && p-ws < 24 {
			p++
		}
		if p == ws {
			return false
		}
		if hasKeyword(text, ws, ws+1, streetTypes) && (p == len(text) || !isAlpha(text[p]) && text[p] < 0x80) {
			return true
		}
		if p < len(text) && (text[p] == '.' || text[p] == ',') {
			p++
		}
	}
	return false
}
