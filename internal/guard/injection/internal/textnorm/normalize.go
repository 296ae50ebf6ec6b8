// SPDX-License-Identifier: Apache-2.0

package textnorm

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// A Normalizer holds scratch buffers so that normalising a prompt does not
// allocate once the buffers have grown. It is not safe for concurrent use;
// callers pool them.
type Normalizer struct {
	nfkc  []byte
	clean []byte
	tags  []byte
	toks  []token
	word  []rune
	text  []byte // token text, referenced by toks
}

// token is one word or punctuation run of the cleaned text.
type token struct {
	start, end int32 // into Normalizer.text
	kind       tokKind
	single     bool // exactly one letter rune (candidate for spacing collapse)
	gap        gapKind
}

type tokKind uint8

const (
	tokWord tokKind = iota
	tokPunct
	tokIdeo // one CJK ideograph or kana: those scripts do not use spaces
)

// gapKind describes what separated a token from the previous one; spacing
// tricks ("i g n o r e") use exactly one separator between letters.
type gapKind uint8

const (
	gapNone   gapKind = iota // adjacent
	gapSingle                // exactly one plain space
	gapWide                  // more whitespace, or a line break
)

// Append appends the normalised form of s to dst and returns it. The
// normalised form is lower-case tokens separated by single spaces.
func (n *Normalizer) Append(dst []byte, s string) []byte {
	n.nfkc = norm.NFKC.AppendString(n.nfkc[:0], s)
	return n.appendFromNFKC(dst)
}

// AppendBytes is Append for a byte slice (a decoded payload).
func (n *Normalizer) AppendBytes(dst, b []byte) []byte {
	n.nfkc = norm.NFKC.Append(n.nfkc[:0], b...)
	return n.appendFromNFKC(dst)
}

// Clean returns the text of the last Append call after NFKC and removal of
// invisible characters, with case preserved. Encoded payloads are searched
// for here: base64 is case-sensitive, and a zero-width space must not be able
// to split a payload. The slice is valid until the next call.
func (n *Normalizer) Clean() []byte { return n.clean }

// Tags returns the ASCII message spelled by Unicode tag characters
// (U+E0020–U+E007E) in the last input. Tags are invisible when rendered but
// some models read them, so they are a way to smuggle instructions past a
// human reviewer.
func (n *Normalizer) Tags() []byte { return n.tags }

func (n *Normalizer) appendFromNFKC(dst []byte) []byte {
	// Pass 1: drop invisible characters and count scripts so that homoglyph
	// folding can tell Latin text with disguised letters from Russian or Greek.
	n.clean = n.clean[:0]
	n.tags = n.tags[:0]
	var latin, other int
	prevLatin := false
	for i := 0; i < len(n.nfkc); {
		if c := n.nfkc[i]; c < utf8.RuneSelf {
			// ASCII fast path: most prompts are mostly ASCII.
			i++
			prevLatin = asciiClass[c] == classWord && c > '9'
			if prevLatin {
				latin++
			}
			n.clean = append(n.clean, c)
			continue
		}
		r, size := utf8.DecodeRune(n.nfkc[i:])
		i += size
		if isInvisible(r) {
			if r >= 0xE0020 && r <= 0xE007E {
				n.tags = append(n.tags, byte(r-0xE0000))
			}
			continue
		}
		if unicode.Is(unicode.Mn, r) {
			// Combining marks on Latin letters are either accents NFKC could
			// not compose or "Zalgo" stacking used to break up keywords.
			if prevLatin {
				continue
			}
		} else {
			prevLatin = r < 0x250 && isLetter(r)
			switch {
			case prevLatin:
				latin++
			case r >= 0x370 && r < tableSize:
				other++
			}
		}
		n.clean = utf8.AppendRune(n.clean, r)
	}
	foldAllConfusables := latin > 2*other

	// Pass 2: tokenise, lower-case, fold look-alikes and leetspeak per word.
	n.toks = n.toks[:0]
	n.text = n.text[:0]
	n.word = n.word[:0]
	gap := gapNone
	spaces := 0
	for i := 0; i < len(n.clean); {
		r, size := rune(n.clean[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(n.clean[i:])
		} else if asciiClass[r] == classWord {
			// ASCII fast path for letters and digits.
			i++
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			}
			n.word = append(n.word, r)
			spaces = 0
			continue
		}
		i += size
		switch {
		case isSpace(r):
			n.flushWord(&gap, foldAllConfusables)
			spaces++
			if r != ' ' || spaces > 1 {
				gap = gapWide
			} else if gap != gapWide {
				gap = gapSingle
			}
			continue
		case isIdeographic(r):
			n.flushWord(&gap, foldAllConfusables)
			start := len(n.text)
			n.text = utf8.AppendRune(n.text, unicode.ToLower(r))
			n.push(start, tokIdeo, false, &gap)
		case isWordRune(r) || ((r == '@' || r == '$') && (len(n.word) > 0 || nextIsWordRune(n.clean[i:]))):
			n.word = append(n.word, r)
		default:
			n.flushWord(&gap, foldAllConfusables)
			// Punctuation runs such as "###" or "]:" are kept as one token:
			// prompt templates and jailbreak personas lean on them.
			last := len(n.toks) - 1
			if last >= 0 && gap == gapNone && n.toks[last].kind == tokPunct && int(n.toks[last].end) == len(n.text) {
				n.text = utf8.AppendRune(n.text, r)
				n.toks[last].end = int32(len(n.text))
				n.toks[last].single = false
			} else {
				start := len(n.text)
				n.text = utf8.AppendRune(n.text, r)
				n.push(start, tokPunct, isSpacingSeparator(r), &gap)
			}
		}
		spaces = 0
	}
	n.flushWord(&gap, foldAllConfusables)
	return n.emit(dst)
}

// push records the token that starts at text[start:].
func (n *Normalizer) push(start int, kind tokKind, single bool, gap *gapKind) {
	n.toks = append(n.toks, token{start: int32(start), end: int32(len(n.text)), kind: kind, single: single, gap: *gap})
	*gap = gapNone
}

// flushWord folds the pending word and records it as a token.
func (n *Normalizer) flushWord(gap *gapKind, foldAll bool) {
	if len(n.word) == 0 {
		return
	}
	w := n.word
	hasLatin, hasConfusable, allConfusable := false, false, true
	letters, leets := 0, 0
	for i, r := range w {
		if r >= utf8.RuneSelf {
			r = foldLatin(unicode.ToLower(r))
			w[i] = r
		}
		if confusable(r) != 0 {
			hasConfusable = true
		} else if isLetter(r) {
			allConfusable = false
		}
		if isLetter(r) {
			letters++
			if r < 0x250 {
				hasLatin = true
			}
		} else if leet(r) != 0 {
			leets++
		}
	}
	if hasConfusable && (hasLatin || (allConfusable && foldAll)) {
		for i, r := range w {
			if f := confusable(r); f != 0 {
				w[i] = f
			}
		}
	}
	// Leetspeak: only in words that are mostly letters, so that numbers,
	// versions and identifiers such as "x86" keep their meaning.
	if leets > 0 && letters >= 2 && letters >= leets {
		for i, r := range w {
			if f := leet(r); f != 0 {
				w[i] = f
			}
		}
	}
	start := len(n.text)
	for _, r := range w {
		n.text = utf8.AppendRune(n.text, r)
	}
	single := len(w) == 1 && isLetter(w[0])
	n.push(start, tokWord, single, gap)
	n.word = n.word[:0]
}

// emit writes the tokens separated by single spaces, joining runs of spaced
// single letters ("i g n o r e", "i.g.n.o.r.e") back into words.
func (n *Normalizer) emit(dst []byte) []byte {
	toks := n.toks
	first := true
	for i := 0; i < len(toks); {
		if j, ok := n.spacedRun(i); ok {
			if !first {
				dst = append(dst, ' ')
			}
			first = false
			for k := i; k < j; k++ {
				if toks[k].kind == tokWord {
					dst = append(dst, n.text[toks[k].start:toks[k].end]...)
				}
			}
			i = j
			continue
		}
		if !first {
			dst = append(dst, ' ')
		}
		first = false
		dst = append(dst, n.text[toks[i].start:toks[i].end]...)
		i++
	}
	return dst
}

// minSpacedRun is the number of single letters that must be spaced out
// before they are joined; shorter runs are ordinary ("a b c").
const minSpacedRun = 3

// spacedRun reports whether a run of spaced single letters starts at toks[i]
// and returns the index after it.
func (n *Normalizer) spacedRun(i int) (int, bool) {
	toks := n.toks
	if !isSingleLetter(toks[i]) {
		return i, false
	}
	letters := 1
	j := i + 1
	// The separator is either one space or one punctuation rune without
	// spaces; the first separator seen fixes which, so "a. b. c." is left alone.
	var sepPunct bool
	sepKnown := false
	for j < len(toks) {
		t := toks[j]
		switch {
		case isSingleLetter(t) && t.gap == gapSingle && (!sepKnown || !sepPunct):
			sepKnown, sepPunct = true, false
			letters++
			j++
			continue
		case t.kind == tokPunct && t.single && t.gap == gapNone && (!sepKnown || sepPunct) &&
			j+1 < len(toks) && isSingleLetter(toks[j+1]) && toks[j+1].gap == gapNone:
			sepKnown, sepPunct = true, true
			letters++
			j += 2
			continue
		}
		break
	}
	if letters < minSpacedRun {
		return i, false
	}
	return j, true
}

func isSingleLetter(t token) bool { return t.kind == tokWord && t.single }

func nextIsWordRune(b []byte) bool {
	r, _ := utf8.DecodeRune(b)
	return isWordRune(r)
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r] == classWord && r > '9'
	}
	return unicode.IsLetter(r)
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r] == classWord
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}

// ASCII character classes, for the fast paths.
const (
	classPunct uint8 = iota
	classWord
	classSpace
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			t[c] = classWord
		case c == ' ', c >= '\t' && c <= '\r':
			t[c] = classSpace
		}
	}
	return t
}()

func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r] == classSpace
	}
	// U+2800 (braille blank) and the Hangul fillers render as blanks and are
	// used as spaces that naive splitters miss.
	return unicode.IsSpace(r) || r == 0x2800 || r == 0x3164 || r == 0xFFA0 || r == 0x115F || r == 0x1160
}

// isIdeographic reports scripts written without spaces between words; each
// such character is its own token so that word n-grams become character
// n-grams there.
func isIdeographic(r rune) bool {
	if r < 0x2E80 {
		return false
	}
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r)
}

// isSpacingSeparator reports punctuation used to space out letters.
func isSpacingSeparator(r rune) bool {
	switch r {
	case '.', '-', '_', '*', '|', '/', '+', '~', '·', '•', ',':
		return true
	}
	return false
}

// isInvisible reports characters that render as nothing and only serve to
// split keywords: zero-width characters, bidi controls, Unicode tags (which
// can also smuggle whole ASCII messages), variation selectors and the soft
// hyphen.
func isInvisible(r rune) bool {
	if r < 0xAD {
		return false
	}
	switch {
	case r == 0x00AD, r == 0x034F, r == 0x061C, r == 0x180E, r == 0xFEFF:
		return true
	case r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2060 && r <= 0x206F:
		return true
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0000 && r <= 0xE0FFF:
		return true
	case r >= 0xFFF0 && r <= 0xFFF8:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}
