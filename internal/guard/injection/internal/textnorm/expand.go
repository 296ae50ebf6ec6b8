// SPDX-License-Identifier: Apache-2.0

package textnorm

import (
	"encoding/base64"
	"slices"
	"unicode"
	"unicode/utf8"
)

// Limits on payload decoding, so that a prompt full of base64 cannot make
// scoring expensive.
const (
	// MaxVariants is the most variants Expand returns, the input included.
	MaxVariants = 8
	// maxDepth is how often a decoded payload is itself searched for payloads
	// (base64 of hex, say).
	maxDepth = 2
	// maxDecoded caps the decoded bytes kept per Expand call.
	maxDecoded = 64 << 10
	// minBase64 is the shortest base64 run considered; shorter runs are
	// mostly identifiers and words.
	minBase64 = 16
	// minDecoded is the shortest decoded payload kept.
	minDecoded = 6
)

// An Expander turns a prompt into normalised variants: the prompt itself and
// each payload decoded from it. It is not safe for concurrent use; callers
// pool them.
type Expander struct {
	n     Normalizer
	out   []byte // normalised variants, back to back
	ends  []int  // end offset of each variant in out
	raw   []byte // decoded payloads waiting to be normalised
	queue []pending
	b64   []byte
	word  []byte
	vars  [][]byte
}

type pending struct {
	start, end int
	depth      int
}

// Expand returns the normalised variants of s. The first is s itself; the
// rest are decoded base64, hex, percent-encoded, ROT13, reversed and
// tag-character payloads. The slices are valid until the next call.
func (e *Expander) Expand(s string) [][]byte {
	e.out = e.out[:0]
	e.ends = e.ends[:0]
	e.raw = e.raw[:0]
	e.queue = e.queue[:0]
	e.out = e.n.Append(e.out, s)
	e.ends = append(e.ends, len(e.out))
	e.scan(1)
	for q := 0; q < len(e.queue) && len(e.ends) < MaxVariants; q++ {
		p := e.queue[q]
		e.out = append(e.out, '\n') // keeps variants apart in out; trimmed below
		e.out = e.n.AppendBytes(e.out, e.raw[p.start:p.end])
		e.ends = append(e.ends, len(e.out))
		if p.depth < maxDepth {
			e.scan(p.depth + 1)
		}
	}
	e.vars = e.vars[:0]
	start := 0
	for i, end := range e.ends {
		if i > 0 {
			start++ // the separator
		}
		e.vars = append(e.vars, e.out[start:end])
		start = end
	}
	return e.vars
}

// scan looks for payloads in the last normalised input and queues them.
func (e *Expander) scan(depth int) {
	clean := e.n.Clean()
	if tags := e.n.Tags(); len(tags) >= 4 {
		e.enqueue(tags, depth)
	}
	e.scanBase64(clean, depth)
	e.scanHex(clean, depth)
	e.scanPercent(clean, depth)
	e.scanCiphers(clean, depth)
}

// enqueue copies a plausible payload into raw.
func (e *Expander) enqueue(b []byte, depth int) {
	if len(e.queue)+len(e.ends) >= MaxVariants+2 || len(e.raw)+len(b) > maxDecoded {
		return
	}
	start := len(e.raw)
	e.raw = append(e.raw, b...)
	e.queue = append(e.queue, pending{start: start, end: len(e.raw), depth: depth})
}

func isBase64Byte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_'
}

// scanBase64 decodes runs of base64 characters (standard or URL alphabet,
// possibly wrapped over lines).
func (e *Expander) scanBase64(b []byte, depth int) {
	for i := 0; i < len(b); {
		if !isBase64Byte(b[i]) {
			i++
			continue
		}
		e.b64 = e.b64[:0]
		urlSafe := false
		j := i
		for j < len(b) {
			c := b[j]
			if isBase64Byte(c) {
				urlSafe = urlSafe || c == '-' || c == '_'
				e.b64 = append(e.b64, c)
				j++
				continue
			}
			// Line-wrapped base64 continues after a line break.
			if (c == '\n' || c == '\r') && len(e.b64) >= 40 && j+1 < len(b) && (isBase64Byte(b[j+1]) || b[j+1] == '\n') {
				j++
				continue
			}
			break
		}
		for j < len(b) && b[j] == '=' {
			j++
		}
		i = j
		if len(e.b64) < minBase64 || !mixedBase64(e.b64) {
			continue
		}
		data := e.b64
		if len(data)%4 == 1 {
			data = data[:len(data)-1]
		}
		enc := base64.RawStdEncoding
		if urlSafe {
			enc = base64.RawURLEncoding
		}
		need := enc.DecodedLen(len(data))
		e.word = slices.Grow(e.word[:0], need)[:need]
		n, err := enc.Decode(e.word, data)
		if err != nil {
			continue
		}
		if dec := e.word[:n]; plausibleText(dec) {
			e.enqueue(dec, depth)
		}
	}
}

// mixedBase64 rejects runs that are plain words or numbers: real base64 of
// text mixes cases or digits.
func mixedBase64(b []byte) bool {
	var lower, upper, digit bool
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= '0' && c <= '9':
			digit = true
		}
	}
	return lower && (upper || digit)
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// scanHex decodes runs of hex byte pairs, bare ("69676e"), escaped
// ("\x69\x67"), prefixed ("0x69 0x67") or separated ("69 67", "69:67").
func (e *Expander) scanHex(b []byte, depth int) {
	for i := 0; i < len(b); {
		if _, ok := hexVal(b[i]); !ok && b[i] != '\\' {
			i++
			continue
		}
		e.word = e.word[:0]
		j := i
		for j < len(b) {
			k := j
			switch {
			case b[k] == '\\' && k+1 < len(b) && (b[k+1] == 'x' || b[k+1] == 'X'):
				k += 2
			case b[k] == '0' && k+2 < len(b) && (b[k+1] == 'x' || b[k+1] == 'X'):
				k += 2
			}
			if k+1 >= len(b) {
				break
			}
			hi, ok1 := hexVal(b[k])
			lo, ok2 := hexVal(b[k+1])
			if !ok1 || !ok2 {
				break
			}
			e.word = append(e.word, hi<<4|lo)
			j = k + 2
			if j+1 < len(b) && (b[j] == ' ' || b[j] == ':' || b[j] == ',' || b[j] == '-') {
				if _, ok := hexVal(b[j+1]); ok || b[j+1] == '\\' {
					j++
				}
			}
		}
		if len(e.word) >= minDecoded+2 && plausibleText(e.word) {
			e.enqueue(e.word, depth)
		}
		if j > i {
			i = j
		} else {
			i++
		}
	}
}

// scanPercent decodes URL percent-encoding when a prompt has several escapes.
func (e *Expander) scanPercent(b []byte, depth int) {
	escapes := 0
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			if _, ok := hexVal(b[i+1]); ok {
				if _, ok := hexVal(b[i+2]); ok {
					escapes++
				}
			}
		}
	}
	if escapes < 4 {
		return
	}
	e.word = e.word[:0]
	for i := 0; i < len(b); i++ {
		if b[i] == '%' && i+2 < len(b) {
			hi, ok1 := hexVal(b[i+1])
			lo, ok2 := hexVal(b[i+2])
			if ok1 && ok2 {
				e.word = append(e.word, hi<<4|lo)
				i += 2
				continue
			}
		}
		if b[i] == '+' {
			e.word = append(e.word, ' ')
			continue
		}
		e.word = append(e.word, b[i])
	}
	if utf8.Valid(e.word) {
		e.enqueue(e.word, depth)
	}
}

// plausibleText reports whether decoded bytes look like text rather than
// binary: valid UTF-8, printable, and either mostly letters and spaces
// (natural language) or almost all letters and digits (another encoding
// layer, such as hex inside base64).
func plausibleText(b []byte) bool {
	if len(b) < minDecoded || !utf8.Valid(b) {
		return false
	}
	var total, printable, letters, alnum int
	for _, r := range string(b) {
		total++
		switch {
		case unicode.IsLetter(r) || r == ' ':
			letters++
			printable++
			if r != ' ' {
				alnum++
			}
		case unicode.IsDigit(r):
			alnum++
			printable++
		case r == '\n' || r == '\t' || r == '\r' || unicode.IsPrint(r):
			printable++
		}
	}
	return printable*10 >= total*9 && (letters*2 >= total || alnum*10 >= total*9)
}

// scanCiphers adds ROT13 and reversed variants when they read more like
// English than the original does. Checking first keeps ordinary prompts at
// one variant and keeps gibberish from being scored.
func (e *Expander) scanCiphers(b []byte, depth int) {
	var words, orig, rot, rev int
	for i := 0; i < len(b); {
		if !isASCIILetter(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && isASCIILetter(b[j]) {
			j++
		}
		w := b[i:j]
		i = j
		if len(w) < 2 || len(w) > maxMarkerLen {
			continue
		}
		words++
		var k, kr, kv uint64
		for x, c := range w {
			c |= 0x20
			k = k<<5 | uint64(c-'a'+1)
			kr = kr<<5 | uint64(rot13(c)-'a'+1)
			kv |= uint64(c-'a'+1) << (5 * x)
		}
		if markerWords[k] {
			orig++
		}
		if markerWords[kr] {
			rot++
		}
		if markerWords[kv] {
			rev++
		}
	}
	if rot >= 2 && rot > orig {
		e.word = e.word[:0]
		for _, c := range b {
			e.word = append(e.word, rot13(c))
		}
		e.enqueue(e.word, depth)
	}
	if rev >= 2 && rev > orig {
		e.word = e.word[:0]
		for i := len(b); i > 0; {
			r, size := utf8.DecodeLastRune(b[:i])
			i -= size
			e.word = utf8.AppendRune(e.word, r)
		}
		e.enqueue(e.word, depth)
	}
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func rot13(c byte) byte {
	switch {
	case c >= 'a' && c <= 'z':
		return 'a' + (c-'a'+13)%26
	case c >= 'A' && c <= 'Z':
		return 'A' + (c-'A'+13)%26
	}
	return c
}

// markerWords are frequent English words, and words common in attacks, used
// to tell whether a transformed text reads as English.
// Words are packed five bits a letter into a uint64 key, which is cheaper to
// look up than a string.
var markerWords = map[uint64]bool{}

// maxMarkerLen is the longest word that fits a key.
const maxMarkerLen = 12

func init() {
	for _, w := range []string{
		"the", "and", "you", "your", "all", "to", "of", "is", "are", "be", "in", "it", "that", "this",
		"for", "with", "now", "from", "ignore", "previous", "prior", "above", "instructions",
		"instruction", "rules", "system", "prompt", "say", "print", "reveal", "tell", "me", "what",
		"do", "not", "any", "forget", "disregard", "output", "password", "secret", "am", "will",
		"must", "have", "no", "can", "an", "as", "on", "we", "they", "was", "were", "my", "i",
		"please", "write", "give", "how", "make", "instead", "only", "just", "everything", "ignoring",
	} {
		var k uint64
		for _, c := range []byte(w) {
			k = k<<5 | uint64(c-'a'+1)
		}
		markerWords[k] = true
	}
}
