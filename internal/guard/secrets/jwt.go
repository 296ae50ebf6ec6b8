// SPDX-License-Identifier: Apache-2.0

package secrets

import "encoding/json"

// maxJWT bounds a token; real ones are well under 8 KB (they travel in
// headers). maxJWTHeader bounds the first segment.
const (
	maxJWT       = 8 << 10
	maxJWTHeader = 1024
)

var b64url = newClass("A-Za-z0-9_-")

// runCache remembers the ends of the last few character-class runs
// measured, so that word starts inside one long run ("sk-sk-sk-...",
// "ey-ey-ey-...") do not each rescan it: every start inside [start, end)
// of a class run has the same run end. It keeps Find linear on
// adversarial input.
type runCache struct {
	runs [4]struct {
		class      *charClass
		start, end int
	}
	next int
}

// runEnd returns the end of the run of class bytes starting at i.
func (c *runCache) runEnd(text string, i int, class *charClass) int {
	for k := range c.runs {
		r := &c.runs[k]
		if r.class == class && r.start <= i && i < r.end {
			return r.end
		}
	}
	e := span(text, i, class, len(text)-i)
	if e > i {
		r := &c.runs[c.next]
		r.class, r.start, r.end = class, i, e
		c.next = (c.next + 1) % len(c.runs)
	}
	return e
}

// matchJWT matches header.payload.signature at w where header and payload
// are base64url JSON objects ("eyJ" is base64 for `{"`), the signature is
// base64url and may be empty (alg "none"), and the header actually decodes
// to a JSON object. The decode is what separates a JWT from any other
// dotted base64 run.
func matchJWT(text string, w int, c *runCache) (end int, ok bool) {
	h := c.runEnd(text, w, b64url)
	if h-w < 10 || h-w > maxJWTHeader || h >= len(text) || text[h] != '.' {
		return 0, false
	}
	if h+3 > len(text) || text[h+1] != 'e' || text[h+2] != 'y' {
		return 0, false
	}
	if !jsonObject(text[w:h]) {
		return 0, false
	}
	p := c.runEnd(text, h+1, b64url)
	if p-h-1 < 10 || p >= len(text) || text[p] != '.' || p-w > maxJWT {
		return 0, false
	}
	s := c.runEnd(text, p+1, b64url)
	if p+1 == len(text) || !b64url.has(text[p+1]) {
		s = p + 1 // empty signature
	}
	if s-w > maxJWT || s < len(text) && (isWord(text[s]) || text[s] == '.') {
		return 0, false // too long, glued to more text, or a five-part JWE
	}
	return s, true
}

// jsonObject reports whether seg (unpadded base64url) decodes to a JSON
// object. Headers are small; anything over 1 KB is not one.
func jsonObject(seg string) bool {
	if len(seg) > maxJWTHeader {
		return false
	}
	var buf [768]byte
	n, ok := decodeBase64URL(buf[:], seg)
	return ok && n > 1 && buf[0] == '{' && json.Valid(buf[:n])
}

// decodeBase64URL decodes unpadded base64url from a string into dst
// without the []byte copy base64.Encoding.Decode would need. dst must hold
// len(s)*3/4 bytes.
func decodeBase64URL(dst []byte, s string) (n int, ok bool) {
	var acc uint32
	bits := 0
	for i := 0; i < len(s); i++ {
		v := b64urlValue[s[i]]
		if v == 0xff {
			return 0, false
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			dst[n] = byte(acc >> bits)
			n++
		}
	}
	// A lone sixth of a byte is invalid; like encoding/base64's default
	// (non-strict) mode, non-zero padding bits are tolerated.
	return n, bits < 6
}

var b64urlValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()
