// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"bytes"
	"math"
	"strings"
)

// entropy is the Shannon entropy of s in bits per byte. Random base62 runs
// score about 4-5, hex about 3.7-4, English words and identifiers about
// 2.5-3.5 on the short strings this is used for.
//
// It uses H = log2(n) - (1/n) * sum(c * log2(c)) over the byte counts c,
// with c*log2(c) from a table, so a call costs one logarithm.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]uint16
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	// Visit each distinct byte once, via the string rather than all 256
	// counters: values are short.
	sum := 0.0
	for i := 0; i < len(s); i++ {
		c := counts[s[i]]
		if c == 0 {
			continue
		}
		counts[s[i]] = 0
		if int(c) < len(cLog2c) {
			sum += cLog2c[c]
		} else {
			sum += float64(c) * math.Log2(float64(c))
		}
	}
	n := float64(len(s))
	return math.Log2(n) - sum/n
}

// cLog2c[c] is c*log2(c), for the byte counts of values up to 1 KB.
var cLog2c = func() (t [1025]float64) {
	for c := 2; c < len(t); c++ {
		t[c] = float64(c) * math.Log2(float64(c))
	}
	return t
}()

// classes counts the character classes present in s: lower, upper, digit,
// other.
func classes(s string) int {
	var lo, up, dg, ot bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isLower(c):
			lo = true
		case isUpper(c):
			up = true
		case isDigit(c):
			dg = true
		default:
			ot = true
		}
	}
	n := 0
	for _, b := range [4]bool{lo, up, dg, ot} {
		if b {
			n++
		}
	}
	return n
}

// placeholderParts mark a value as an obvious stand-in rather than a
// credential: documentation, templates and redacted dumps are full of them.
var placeholderParts = []string{
	"xxxx", "****", "....", "<", "${", "{{", "}}", "%(", "$(", "example",
	"placeholder", "password", "redacted", "changeme", "change_me", "your", "insert", "replace",
	"dummy", "sample", "fixme", "todo", "test", "fake", "mock", "foobar", "my_", "my-", "secret_here", "key_here", "token_here",
}

var placeholderPartBytes = func() [][]byte {
	b := make([][]byte, len(placeholderParts))
	for i, p := range placeholderParts {
		b[i] = []byte(p)
	}
	return b
}()

var placeholderWords = []string{
	"password", "passwd", "secret", "token", "none", "null", "nil", "true", "false",
	"undefined", "string", "required", "optional", "empty", "hidden", "masked", "pass",
}

// isPlaceholder reports whether v is a template value, not a secret.
func isPlaceholder(v string) bool {
	if v == "" {
		return true
	}
	if isReference(v) {
		return true
	}
	// Lower-case into a stack buffer so the part search can use
	// bytes.Contains; values longer than the buffer are not placeholders.
	var buf [512]byte
	if len(v) > len(buf) {
		return false
	}
	lv := buf[:len(v)]
	for i := 0; i < len(v); i++ {
		lv[i] = toLower(v[i])
	}
	for _, p := range placeholderPartBytes {
		if bytes.Contains(lv, p) {
			return true
		}
	}
	for _, w := range placeholderWords {
		if strings.EqualFold(v, w) {
			return true
		}
	}
	// A single repeated byte ("aaaaaaaa", "00000000").
	if strings.Count(v, v[:1]) == len(v) {
		return true
	}
	return false
}

// isReference reports whether v refers to a secret kept elsewhere: $VAR,
// ${VAR}, $(cmd), %VAR%, <token>, {{ .Secret }}, @Value("x"). A password
// that merely starts with '$' or '@' is not a reference.
func isReference(v string) bool {
	last := v[len(v)-1]
	switch v[0] {
	case '$':
		return len(v) > 1 && (v[1] == '{' || v[1] == '(' || identOnly(v[1:]))
	case '@':
		return identOnly(v[1:])
	case '%':
		return last == '%'
	case '<':
		return last == '>'
	case '{':
		return strings.IndexByte(v, '}') > 0
	}
	return false
}

func identOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isWord(s[i]) {
			return false
		}
	}
	return s != ""
}
