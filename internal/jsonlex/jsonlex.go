// SPDX-License-Identifier: Apache-2.0

// Package jsonlex holds the byte-level JSON lexing that Bulwark's
// hand-written walkers share: llm.Parse, llm.CheckStrict, the WAF's ARGS
// walk and the guards' rewrite walk. Each walker keeps its own structure
// and error reporting; what they must agree on (what an escape means, how
// a lone surrogate decodes, where a number ends) lives here once.
//
// Functions take the document and an offset and return offsets, so that
// the walkers keep their position in a local or a field of their own.
// Where encoding/json and a caller's needs differ (CheckStrict refuses lone
// surrogates that encoding/json replaces), the function returns what it
// read and the caller decides.
package jsonlex

import (
	"unicode/utf16"
	"unicode/utf8"
)

// SkipSpace returns the offset of the first byte at or after i that is not
// JSON whitespace.
func SkipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Literal reports whether word (true, false or null) stands at b[i].
func Literal(b []byte, i int, word string) bool {
	return len(b)-i >= len(word) && string(b[i:i+len(word)]) == word
}

// Number reads a number at b[i] by JSON's grammar and returns the offset
// just past it. When the grammar fails, ok is false and end is where it
// failed: i when no digit starts the number, else just past the '.' or
// exponent that has no digits.
func Number(b []byte, i int) (end int, ok bool) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return start, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if j := digits(b, i); j > i {
			i = j
		} else {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if j := digits(b, i); j > i {
			i = j
		} else {
			return i, false
		}
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// SkimNumber returns the end of the run of bytes at b[i] that may make up
// a number, without checking the grammar. It is for walkers that need only
// a number's span: the WAF walk reads bodies CheckStrict has accepted, and
// the guards copy numbers through untouched.
func SkimNumber(b []byte, i int) int {
	for i < len(b) {
		switch c := b[i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			i++
		default:
			return i
		}
	}
	return i
}

// SkipString moves past the string whose opening quote is at b[i] and
// returns the offset just past its closing quote and whether it holds
// escapes. It refuses control characters (ok false) but does not check
// the escapes, only steps over them: callers that read the text decode it
// with Unquote, which does.
func SkipString(b []byte, i int) (end int, escaped, ok bool) {
	i++
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, true
		case c == '\\':
			escaped = true
			i += 2
		case c < 0x20:
			return i, false, false
		default:
			i++
		}
	}
	return len(b), false, false
}

// Unescape returns the byte that the one-letter escape \e stands for, and
// false for 'u' and letters JSON does not define.
func Unescape(e byte) (byte, bool) {
	c := unescapes[e]
	return c, c != 0
}

// unescapes is a table, not a switch, so that Unescape is cheap enough to
// inline into the walkers' string loops.
var unescapes = [256]byte{
	'"': '"', '\\': '\\', '/': '/',
	'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
}

// Unicode reads the \u escape whose backslash is at b[i]: the code point
// and the bytes read, 6, or 12 when a high surrogate is followed by the
// escape of a low one (the two read as one code point, as in encoding/json).
// A surrogate that is not so paired comes back as itself, with n 6 and the
// next escape left unread: encoding/json decodes it as U+FFFD, CheckStrict
// refuses it. ok is false when the four hex digits are not there.
func Unicode(b []byte, i int) (r rune, n int, ok bool) {
	r, ok = hex4(b, i+2)
	if !ok {
		return 0, 0, false
	}
	if r >= 0xD800 && r < 0xDC00 && i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
		if lo, ok := hex4(b, i+8); ok {
			if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
				return d, 12, true
			}
		}
	}
	return r, 6, true
}

// hex4 reads the four hex digits at b[i:i+4]. It is table-driven so that
// it inlines into Unicode: a non-digit is -1 in unhex, which makes the sum
// negative.
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	h := b[i : i+4]
	r := rune(unhex[h[0]])<<12 | rune(unhex[h[1]])<<8 | rune(unhex[h[2]])<<4 | rune(unhex[h[3]])
	return r, r >= 0
}

var unhex = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := 0; c < 10; c++ {
		t['0'+c] = int8(c)
	}
	for c := 0; c < 6; c++ {
		t['a'+c] = int8(10 + c)
		t['A'+c] = int8(10 + c)
	}
	return t
}()

// AppendEscape decodes the escape whose backslash is at b[i], appends it
// to dst and returns the offset past it. It decodes as encoding/json does:
// an unpaired surrogate becomes U+FFFD. ok is false (and i returned as it
// was) for an escape JSON does not allow or one cut short. It does not
// inline: loops that meet many escapes try Unescape first.
func AppendEscape(dst, b []byte, i int) ([]byte, int, bool) {
	if i+1 >= len(b) {
		return dst, i, false
	}
	if e := b[i+1]; e != 'u' {
		c, ok := Unescape(e)
		if !ok {
			return dst, i, false
		}
		return append(dst, c), i + 2, true
	}
	r, n, ok := Unicode(b, i)
	if !ok {
		return dst, i, false
	}
	if utf16.IsSurrogate(r) {
		r = utf8.RuneError
	}
	return utf8.AppendRune(dst, r), i + n, true
}

// Unquote appends to dst the text of raw, the bytes between a string's
// quotes, decoded exactly as encoding/json decodes a string: escapes are
// decoded, and unpaired surrogates and invalid UTF-8 become U+FFFD. ok is
// false if raw holds a bad escape, a quote or a control character.
func Unquote(dst, raw []byte) ([]byte, bool) {
	last := 0 // start of the run of bytes not yet copied
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf:
			i++
		case c == '\\':
			dst = append(dst, raw[last:i]...)
			if i+1 < len(raw) {
				if e, ok := Unescape(raw[i+1]); ok {
					dst = append(dst, e)
					i += 2
					last = i
					continue
				}
			}
			var ok bool
			if dst, i, ok = AppendEscape(dst, raw, i); !ok {
				return dst, false
			}
			last = i
		case c < utf8.RuneSelf: // '"' or a control character
			return dst, false
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, raw[last:i]...)
				dst = append(dst, "\uFFFD"...)
				last = i + 1
			}
			i += size
		}
	}
	return append(dst, raw[last:]...), true
}
