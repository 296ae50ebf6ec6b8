// SPDX-License-Identifier: Apache-2.0

package pii

// Byte classes. Every boundary the scanners report sits next to one of
// these ASCII classes, which is what keeps offsets on UTF-8 boundaries.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isWord(c byte) bool  { return isAlnum(c) || c == '_' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

func toLower(c byte) byte {
	if isUpper(c) {
		return c + ('a' - 'A')
	}
	return c
}

func toUpper(c byte) byte {
	if isLower(c) {
		return c - ('a' - 'A')
	}
	return c
}

// numberStartOK reports whether a number may start at s: it must not be the
// tail of a word ("abc123", "v1.2.3.4") or of a dotted/hyphenated token
// ("x-4111...", "1.2.3.4.5" seen from its second component).
func numberStartOK(text string, s int) bool {
	if s == 0 {
		return true
	}
	p := text[s-1]
	if isWord(p) {
		return false
	}
	if (p == '.' || p == '-') && s >= 2 && isAlnum(text[s-2]) {
		return false
	}
	return true
}

// numberEndOK reports whether a number may end at e: the next byte must not
// continue a word, and a '.' or '-' must not lead into more digits
// ("1.2.3.4.5", "4111-1111-...-2").
func numberEndOK(text string, e int) bool {
	if e >= len(text) {
		return true
	}
	c := text[e]
	if isWord(c) {
		return false
	}
	if (c == '.' || c == '-') && e+1 < len(text) && isDigit(text[e+1]) {
		return false
	}
	return true
}

// hasPrefixFold reports whether s starts with prefix, ASCII
// case-insensitively. prefix must be lower case.
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

// keyword is a context word. A stem matches any word starting with it
// ("call" matches "calling"); otherwise the word must end right after it.
type keyword struct {
	word string
	stem bool
}

// hasKeyword reports whether a keyword starts a word somewhere in region.
// region is a slice of the original text, and at region's start the word
// boundary is judged from the byte before it, so pass the full text and
// bounds.
func hasKeyword(text string, from, to int, kws []keyword) bool {
	for j := from; j < to; j++ {
		c := text[j]
		if !isAlpha(c) && c < 0x80 {
			continue
		}
		if j > 0 && (isAlpha(text[j-1]) || text[j-1] >= 0x80) {
			continue
		}
		for _, kw := range kws {
			if !hasPrefixFold(text[j:], kw.word) {
				continue
			}
			k := j + len(kw.word)
			if kw.stem || k >= len(text) || !isAlpha(text[k]) {
				return true
			}
		}
	}
	return false
}
