// SPDX-License-Identifier: Apache-2.0

package secrets

// charClass is a set of bytes.
type charClass [4]uint64

func (c *charClass) has(b byte) bool { return c[b>>6]&(1<<(b&63)) != 0 }

// newClass builds a class from a spec of single bytes and ranges, e.g.
// "A-Za-z0-9_-" (a trailing '-' is literal).
func newClass(spec string) *charClass {
	var c charClass
	for i := 0; i < len(spec); i++ {
		lo, hi := spec[i], spec[i]
		if i+2 < len(spec) && spec[i+1] == '-' {
			hi = spec[i+2]
			i += 2
		}
		for b := int(lo); b <= int(hi); b++ {
			c[b>>6] |= 1 << (uint(b) & 63)
		}
	}
	return &c
}

var (
	alnum      = newClass("A-Za-z0-9")
	alnumUS    = newClass("A-Za-z0-9_")
	alnumUSD   = newClass("A-Za-z0-9_-")
	alnumUSDD  = newClass("A-Za-z0-9_.-")
	upperB32   = newClass("A-Z2-7")
	hexLower   = newClass("a-f0-9")
	hexAny     = newClass("a-fA-F0-9")
	base64Std  = newClass("A-Za-z0-9+/")
	base64Pad  = newClass("A-Za-z0-9+/=")
	wordClass  = newClass("A-Za-z0-9_")
	letters    = newClass("A-Za-z")
	bech32Up   = newClass("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")
	spaceClass = newClass(" \t\r\n")
)

// wordTab backs isWord, the hottest test in Find: one load, no shifts.
var wordTab = func() (t [256]bool) {
	for b := range 256 {
		t[b] = wordClass.has(byte(b))
	}
	return t
}()

func isWord(b byte) bool  { return wordTab[b] }
func isDigit(b byte) bool { return '0' <= b && b <= '9' }
func isUpper(b byte) bool { return 'A' <= b && b <= 'Z' }
func isLower(b byte) bool { return 'a' <= b && b <= 'z' }

func toLower(b byte) byte {
	if isUpper(b) {
		return b + ('a' - 'A')
	}
	return b
}

// hasPrefixFold reports whether s starts with prefix, ASCII
// case-insensitively; prefix must be lower case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if toLower(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// span returns the end of the longest run of class bytes starting at i,
// looking at no more than limit bytes.
func span(text string, i int, c *charClass, limit int) int {
	end := min(len(text), i+limit)
	for i < end && c.has(text[i]) {
		i++
	}
	return i
}
