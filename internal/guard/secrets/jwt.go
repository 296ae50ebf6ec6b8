// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"encoding/base64"
	"encoding/json"
)

// maxJWT bounds a token; real ones are well under 8 KB (they travel in
// headers).
const maxJWT = 8 << 10

var b64url = newClass("A-Za-z0-9_-")

// matchJWT matches header.payload.signature at w where header and payload
// are base64url JSON objects ("eyJ" is base64 for `{"`), the signature is
// base64url and may be empty (alg "none"), and the header actually decodes
// to a JSON object. The decode is what separates a JWT from any other
// dotted base64 run.
func matchJWT(text string, w int) (end int, ok bool) {
	limit := min(len(text), w+maxJWT)
	h := span(text, w, b64url, limit-w)
	if h-w < 10 || h >= limit || text[h] != '.' {
		return 0, false
	}
	p := span(text, h+1, b64url, limit-h-1)
	if p-h-1 < 10 || text[h+1] != 'e' || text[h+2] != 'y' || p >= limit || text[p] != '.' {
		return 0, false
	}
	s := span(text, p+1, b64url, limit-p-1)
	if s < len(text) && (isWord(text[s]) || text[s] == '.') {
		return 0, false // glued to more text, or a five-part JWE
	}
	if !jsonObject(text[w:h]) {
		return 0, false
	}
	return s, true
}

// jsonObject reports whether seg (unpadded base64url) decodes to a JSON
// object. Headers are small; anything over 1 KB is not one.
func jsonObject(seg string) bool {
	if len(seg) > 1024 {
		return false
	}
	var buf [768]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], []byte(seg))
	if err != nil {
		return false
	}
	return n > 1 && buf[0] == '{' && json.Valid(buf[:n])
}
