// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"strings"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

var _ entity.Pender = (*Detector)(nil)

// tokenChar holds every byte a token-shaped value can contain: the token
// rules' prefixes and bodies, JWTs, Telegram and Azure client secrets,
// AWS secret keys, and the start of "-----BEGIN" and "://". A value of
// these kinds that is still growing lies inside the text's trailing run of
// tokenChar bytes.
var tokenChar = newClass("A-Za-z0-9_.+/=~:-")

// tokenSpan returns the longest reach of a token-shaped match (value plus
// the byte after it) among the enabled scanners.
func (d *Detector) tokenSpan() int {
	n := 0
	for i := range d.byFirst {
		for _, r := range d.byFirst[i] {
			n = max(n, len(r.prefix)+r.max+1)
		}
	}
	if d.jwt {
		n = max(n, maxJWT+1)
	}
	if d.telegram {
		n = max(n, 10+1+2+33+1)
	}
	if d.azureClient {
		n = max(n, 4+2+34+1)
	}
	if d.awsSecret {
		n = max(n, 41)
	}
	return n + 2
}

// Pending implements entity.Pender. Text is settled up to the earliest of:
//
//   - the start of the trailing run of token bytes (a token, JWT or
//     partial BEGIN line may still grow there), but no further back than
//     the longest token: an older start inside a longer run already
//     failed on length;
//   - with AWS_SECRET_KEY, a 40-byte base64 run close enough before that
//     run for an access key id arriving there to claim it as its secret;
//   - a "-----BEGIN ...PRIVATE KEY" whose END line has not arrived while
//     the block could still reach it;
//   - the user-info of a scheme:// URL whose authority has not ended;
//   - the value of a secret-named assignment (password=, "token": ...)
//     that has not ended, or whose operator is the last byte.
func (d *Detector) Pending(text string) int {
	n := len(text)
	s := n
	for s > 0 && n-s <= d.span && tokenChar.has(text[s-1]) {
		s--
	}
	p := s
	if d.awsSecret {
		p = min(p, awsCandidate(text, max(0, s-awsWindow-41), s))
	}
	if d.pem {
		p = min(p, pemPending(text))
	}
	if d.url {
		p = min(p, urlPending(text))
	}
	if d.assign {
		p = min(p, d.assignPending(text))
	}
	return p
}

// awsCandidate returns the start of the first run in text[lo:hi] that
// findAWSSecretsNear would report next to an access key id, or hi.
func awsCandidate(text string, lo, hi int) int {
	for k := lo; k < hi; {
		if !base64Std.has(text[k]) {
			k++
			continue
		}
		e := span(text, k, base64Std, 41)
		if e-k == 40 && (k == 0 || !base64Pad.has(text[k-1])) && (e == len(text) || !base64Pad.has(text[e])) {
			if v := text[k:e]; hasUpperLowerDigit(v) && entropy(v) >= 4 {
				return k
			}
		}
		for e < len(text) && base64Pad.has(text[e]) {
			e++
		}
		k = e
	}
	return hi
}

// pemPending returns the start of the first private-key BEGIN line whose
// match could still change, or len(text).
func pemPending(text string) int {
	const begin = "-----BEGIN "
	n := len(text)
	for from := max(0, n-(len(begin)+64+5+maxPEM+1)); ; {
		j := strings.Index(text[from:], begin)
		if j < 0 {
			return n
		}
		i := from + j
		from = i + 1
		ls := i + len(begin)
		le := strings.Index(text[ls:min(n, ls+64)], "-----")
		if le < 0 {
			if ls+64 > n {
				return i // the label may still be arriving
			}
			continue
		}
		label := text[ls : ls+le]
		if !strings.HasSuffix(label, "PRIVATE KEY") && label != "PGP PRIVATE KEY BLOCK" {
			continue
		}
		bodyStart := ls + le + len("-----")
		if bodyStart+maxPEM < n {
			continue // the END search window is complete
		}
		w := text[bodyStart:]
		if nb := strings.Index(w, begin); nb >= 0 {
			// The END line must precede the next BEGIN, and the
			// truncated body stops there: settled.
			continue
		}
		if k, _ := findEnd(w, label); k >= 0 {
			continue
		}
		return i
	}
}

// urlPending returns the start of the user-info of the first scheme://
// URL whose authority runs to the end of text (matchURLCredentials would
// read on), or len(text).
func urlPending(text string) int {
	n := len(text)
	for from := max(0, n-520); ; {
		j := strings.Index(text[from:], "://")
		if j < 0 {
			return n
		}
		i := from + j
		from = i + 1
		if i == 0 || !letters.has(text[i-1]) {
			continue
		}
		u := i + 3
		e := u
		for e < n && e-u < 512 {
			if c := text[e]; c <= ' ' || strings.IndexByte("/?#\"'<>`\\", c) >= 0 {
				break
			}
			e++
		}
		if e == n && e-u < 512 {
			return u
		}
	}
}

// assignPending returns the position after the first ':' or '=' whose
// assignment (see matchAssignment) could still change, or len(text).
func (d *Detector) assignPending(text string) int {
	n := len(text)
	// The value starts within 2+4+len("negotiate ")+1 bytes of the
	// operator and is at most maxValue long (plus its closing quote).
	for i := max(0, n-(maxValue+32)); i < n; i++ {
		c := text[i]
		if c != ':' && c != '=' {
			continue
		}
		if assignOpen(text, i) {
			return i + 1
		}
	}
	return n
}

// assignOpen reports whether matchAssignment at the operator at i reads
// up to the end of text, so that more text could change its answer.
func assignOpen(text string, i int) bool {
	n := len(text)
	op := text[i]
	if i > 0 && strings.IndexByte("=!<>:", text[i-1]) >= 0 {
		return false
	}
	typ := keyBefore(text, i)
	if typ == "" {
		return false
	}
	v := i + 1
	if v >= n {
		return true // "==", ":=", "://" or a value may follow
	}
	switch {
	case op == '=' && text[v] == '=', op == ':' && text[v] == ':':
		return false
	case op == ':' && text[v] == '=', op == '=' && text[v] == '>':
		v++
	}
	for sp := 0; v < n && sp < 4 && (text[v] == ' ' || text[v] == '\t'); sp++ {
		v++
	}
	if v >= n {
		return true
	}
	if typ == authHeader {
		for _, s := range authSchemes {
			if hasPrefixFold(text[v:], s) {
				v += len(s)
				break
			}
		}
		if v >= n {
			return true
		}
	}
	if q := text[v]; q == '"' || q == '\'' || q == '`' {
		e := v + 1
		for e < n && e-v <= maxValue && text[e] != q && text[e] != '\n' {
			if text[e] == '\\' && q != '`' {
				e++
			}
			e++
		}
		return e >= n && e-v <= maxValue
	}
	e := span(text, v, unquotedValue, maxValue+1)
	return e == n && e-v <= maxValue
}
