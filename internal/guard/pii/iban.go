// SPDX-License-Identifier: Apache-2.0

package pii

// ibanLen is the IBAN length per country, from the SWIFT IBAN registry
// (release 99, 2024) plus the partner countries that publish IBANs in the
// same format. A country code not in the table is never an IBAN.
var ibanLen = map[[2]byte]int{
	{'A', 'D'}: 24, {'A', 'E'}: 23, {'A', 'L'}: 28, {'A', 'T'}: 20, {'A', 'Z'}: 28,
	{'B', 'A'}: 20, {'B', 'E'}: 16, {'B', 'G'}: 22, {'B', 'H'}: 22, {'B', 'I'}: 27,
	{'B', 'R'}: 29, {'B', 'Y'}: 28, {'C', 'H'}: 21, {'C', 'R'}: 22, {'C', 'Y'}: 28,
	{'C', 'Z'}: 24, {'D', 'E'}: 22, {'D', 'J'}: 27, {'D', 'K'}: 18, {'D', 'O'}: 28,
	{'E', 'E'}: 20, {'E', 'G'}: 29, {'E', 'S'}: 24, {'F', 'I'}: 18, {'F', 'K'}: 18,
	{'F', 'O'}: 18, {'F', 'R'}: 27, {'G', 'B'}: 22, {'G', 'E'}: 22, {'G', 'I'}: 23,
	{'G', 'L'}: 18, {'G', 'R'}: 27, {'G', 'T'}: 28, {'H', 'N'}: 28, {'H', 'R'}: 21,
	{'H', 'U'}: 28, {'I', 'E'}: 22, {'I', 'L'}: 23, {'I', 'Q'}: 23, {'I', 'S'}: 26,
	{'I', 'T'}: 27, {'J', 'O'}: 30, {'K', 'W'}: 30, {'K', 'Z'}: 20, {'L', 'B'}: 28,
	{'L', 'C'}: 32, {'L', 'I'}: 21, {'L', 'T'}: 20, {'L', 'U'}: 20, {'L', 'V'}: 21,
	{'L', 'Y'}: 25, {'M', 'C'}: 27, {'M', 'D'}: 24, {'M', 'E'}: 22, {'M', 'K'}: 19,
	{'M', 'N'}: 20, {'M', 'R'}: 27, {'M', 'T'}: 31, {'M', 'U'}: 30, {'N', 'I'}: 28,
	{'N', 'L'}: 18, {'N', 'O'}: 15, {'O', 'M'}: 23, {'P', 'K'}: 24, {'P', 'L'}: 28,
	{'P', 'S'}: 29, {'P', 'T'}: 25, {'Q', 'A'}: 29, {'R', 'O'}: 24, {'R', 'S'}: 22,
	{'R', 'U'}: 33, {'S', 'A'}: 24, {'S', 'C'}: 31, {'S', 'D'}: 18, {'S', 'E'}: 24,
	{'S', 'I'}: 19, {'S', 'K'}: 24, {'S', 'M'}: 27, {'S', 'O'}: 23, {'S', 'T'}: 25,
	{'S', 'V'}: 28, {'T', 'L'}: 23, {'T', 'N'}: 24, {'T', 'R'}: 26, {'U', 'A'}: 29,
	{'V', 'A'}: 22, {'V', 'G'}: 24, {'X', 'K'}: 20, {'Y', 'E'}: 30,
	// Partner countries: French overseas collectivities use FR-format IBANs
	// under their own codes.
	{'G', 'F'}: 27, {'G', 'P'}: 27, {'M', 'Q'}: 27, {'R', 'E'}: 27, {'P', 'F'}: 27,
	{'T', 'F'}: 27, {'Y', 'T'}: 27, {'N', 'C'}: 27, {'B', 'L'}: 27, {'M', 'F'}: 27,
	{'P', 'M'}: 27, {'W', 'F'}: 27,
}

// ibanLenTab is ibanLen as a flat array indexed by the two letters, so the
// hot path does no map hashing.
var ibanLenTab = func() (t [26 * 26]uint8) {
	for cc, n := range ibanLen {
		t[int(cc[0]-'A')*26+int(cc[1]-'A')] = uint8(n)
	}
	return t
}()

// maxIBAN is the longest IBAN (Saint Lucia, 32) with room to spare.
const maxIBAN = 34

// matchIBAN parses an IBAN starting at s, in electronic form
// ("GB82WEST12345698765432") or print form with single spaces between
// groups of four ("GB82 WEST 1234 5698 7654 32"). It checks the country
// length, the check-digit range and mod-97. Letters must be all upper or
// all lower case: mixed case is almost always an identifier or base64.
func matchIBAN(text string, s int) (end int, ok bool) {
	if s+4 > len(text) || !isAlpha(text[s]) || !isAlpha(text[s+1]) || !isDigit(text[s+2]) || !isDigit(text[s+3]) {
		return 0, false
	}
	if s > 0 && isAlnum(text[s-1]) {
		return 0, false
	}
	want := int(ibanLenTab[int(toUpper(text[s])-'A')*26+int(toUpper(text[s+1])-'A')])
	if want == 0 {
		return 0, false
	}
	var buf [maxIBAN]byte
	n, p := 0, s
	upper, lower := false, false
	for n < want && p < len(text) {
		c := text[p]
		switch {
		case isAlnum(c):
			upper = upper || isUpper(c)
			lower = lower || isLower(c)
			buf[n] = toUpper(c)
			n++
			p++
		case c == ' ' && n%4 == 0 && p+1 < len(text) && isAlnum(text[p+1]):
			p++
		default:
			return 0, false
		}
	}
	if n != want || upper && lower {
		return 0, false
	}
	if p < len(text) && isAlnum(text[p]) {
		return 0, false
	}
	check := int(buf[2]-'0')*10 + int(buf[3]-'0')
	if check < 2 || check > 98 {
		return 0, false
	}
	if mod97(buf[4:n], buf[:4]) != 1 {
		return 0, false
	}
	return p, true
}

// mod97 computes the ISO 7064 MOD 97-10 remainder of a followed by b, with
// letters expanded to two digits (A=10 ... Z=35).
func mod97(a, b []byte) int {
	r := 0
	for _, part := range [2][]byte{a, b} {
		for _, c := range part {
			if isDigit(c) {
				r = (r*10 + int(c-'0')) % 97
			} else {
				r = (r*100 + int(c-'A'+10)) % 97
			}
		}
	}
	return r
}
