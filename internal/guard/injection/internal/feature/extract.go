// SPDX-License-Identifier: Apache-2.0

package feature

import (
	"unicode/utf8"
)

// Config fixes the feature space and how a text is cut into scoring windows.
// It is stored in the model file, so a model always runs with the features it
// was trained on.
type Config struct {
	// Bits is log2 of the number of hash buckets (weights).
	Bits uint8
	// CharMin and CharMax bound the character n-grams, in runes, taken
	// inside each word with boundary markers ("<ign", "ore>"). Character
	// n-grams carry the model across languages and spelling variants.
	CharMin, CharMax uint8
	// SkipMax is the largest distance between the two words of a
	// skip-bigram (pairs of words with up to SkipMax-1 words between them,
	// punctuation not counted); 0 or 1 disables them. Skip-bigrams tie
	// "ignore" to "instructions" across "all your previous".
	SkipMax uint8
	// ShortMax marks short texts: a text of at most ShortMax tokens gets one
	// extra feature naming its token count, on its last token. Without it a
	// one-word message is scored on that word alone, and "hi" or "okay"
	// looked like the opening of a jailbreak. 0 disables it (models trained
	// before it was added). At most 15: it shares a byte of the file header
	// with SkipMax.
	ShortMax uint8
	// Window is the number of tokens in a scoring window and Stride the step
	// between windows. Scoring the worst window rather than the whole text
	// keeps an instruction hidden in a long document from being averaged
	// away.
	Window, Stride uint16
	// Sentences adds every sentence of at least minSentence and fewer than
	// Window tokens as a window of its own. An override is usually a
	// sentence of its own, and a fixed window that also holds the task after
	// it ("Ignore previous instructions. What is the capital of France?")
	// lets the task's benign words outweigh it.
	Sentences bool
}

// Validate reports whether c describes a usable feature space.
func (c Config) Validate() error {
	switch {
	case c.Bits < 10 || c.Bits > 24:
		return errorf("bits %d out of range [10,24]", c.Bits)
	case c.CharMin < 1 || c.CharMax < c.CharMin || c.CharMax > 8:
		return errorf("char n-gram range [%d,%d] invalid (want 1 <= min <= max <= 8)", c.CharMin, c.CharMax)
	case c.SkipMax > maxSkip:
		return errorf("skip-bigram distance %d out of range [0,%d]", c.SkipMax, maxSkip)
	case c.ShortMax > maxShort:
		return errorf("short-text length %d out of range [0,%d]", c.ShortMax, maxShort)
	case c.Window < 1 || c.Stride < 1 || c.Stride > c.Window:
		return errorf("window %d / stride %d invalid (want 1 <= stride <= window)", c.Window, c.Stride)
	}
	return nil
}

// Buf receives the features of one text. Reuse it across calls: extraction
// does not allocate once it has grown.
type Buf struct {
	// Idx holds the bucket of every feature, token by token.
	Idx []uint32
	// TokEnd[t] is len(Idx) after token t: the features of token t are
	// Idx[TokEnd[t-1]:TokEnd[t]].
	TokEnd []int32
	// WordEnd[t] is len(Idx) after the word-level features of token t (the
	// word, its bigram and skip-bigrams), which come before its character
	// n-grams: Idx[TokEnd[t-1]:WordEnd[t]]. The hidden layer reads only these.
	WordEnd []int32
	// Breaks holds the index of every token that ends a sentence.
	Breaks []int32
	word   []byte
	offs   []int32
}

// Span is a half-open range of tokens.
type Span struct{ Start, End int }

// Seeds keep the feature kinds apart in the shared hash space.
const (
	seedWord   uint32 = 0x9e3779b1
	seedBigram uint32 = 0x85ebca77
	seedChar   uint32 = 0xc2b2ae3d
	seedNum    uint32 = 0x27d4eb2f
	seedSkip   uint32 = 0x165667b1
	seedShort  uint32 = 0x61c88647
	maxSkip           = 4
	maxShort          = 15
	fnvPrime   uint32 = 16777619
)

// Extract fills b with the features of text, which must be normalised
// (tokens separated by single spaces).
func (c Config) Extract(b *Buf, text []byte) {
	b.Idx = b.Idx[:0]
	b.TokEnd = b.TokEnd[:0]
	b.WordEnd = b.WordEnd[:0]
	b.Breaks = b.Breaks[:0]
	shift := 32 - uint32(c.Bits)
	var prev uint32
	havePrev := false
	var ring [maxSkip]uint32 // hashes of the last word tokens, newest at words%maxSkip
	words := 0
	for i := 0; i < len(text); {
		if text[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(text) && text[j] != ' ' {
			j++
		}
		tok := text[i:j]
		i = j

		var h uint32
		if isNumber(tok) {
			// Numbers are mostly noise (dates, amounts); their length is not.
			h = mix(seedNum ^ uint32(min(len(tok), 8)))
		} else {
			h = mix(hashBytes(seedWord, tok))
		}
		b.Idx = append(b.Idx, bucket(h, shift))
		if havePrev {
			b.Idx = append(b.Idx, bucket(mix(seedBigram^(prev*fnvPrime)^h), shift))
		}
		prev, havePrev = h, true
		if hasLetter(tok) {
			for d := 2; d <= int(c.SkipMax) && d <= words; d++ {
				b.Idx = append(b.Idx, bucket(mix(seedSkip^(ring[(words-d+1)%maxSkip]*fnvPrime)^h), shift))
			}
			ring[(words+1)%maxSkip] = h
			words++
			b.WordEnd = append(b.WordEnd, int32(len(b.Idx)))
			if len(tok) > 1 {
				c.charGrams(b, tok, shift)
			}
		}
		if c.Sentences && endsSentence(tok) {
			b.Breaks = append(b.Breaks, int32(len(b.TokEnd)))
		}
		if len(b.WordEnd) < len(b.TokEnd)+1 {
			b.WordEnd = append(b.WordEnd, int32(len(b.Idx)))
		}
		b.TokEnd = append(b.TokEnd, int32(len(b.Idx)))
	}
	if n := len(b.TokEnd); n > 0 && n <= int(c.ShortMax) {
		b.Idx = append(b.Idx, bucket(mix(seedShort^uint32(n)), shift))
		b.TokEnd[n-1]++
	}
}

// charGrams appends the character n-grams of "<tok>".
func (c Config) charGrams(b *Buf, tok []byte, shift uint32) {
	b.word = append(append(append(b.word[:0], 0x02), tok...), 0x03)
	lo, hi := int(c.CharMin), int(c.CharMax)
	if isASCII(tok) {
		// Fast path: one byte per rune.
		w := b.word
		for s := range w {
			h := seedChar
			for n := 1; n <= hi && s+n <= len(w); n++ {
				h = (h ^ uint32(w[s+n-1])) * fnvPrime
				if n >= lo {
					b.Idx = append(b.Idx, bucket(h^uint32(n)<<24, shift))
				}
			}
		}
		return
	}
	c.charGramsRunes(b, shift)
}

// charGramsRunes is charGrams for words with multi-byte runes: n-grams are
// counted in runes, so that a Cyrillic or CJK n-gram covers as many
// characters as a Latin one.
func (c Config) charGramsRunes(b *Buf, shift uint32) {
	lo, hi := int(c.CharMin), int(c.CharMax)
	b.offs = b.offs[:0]
	for k := 0; k < len(b.word); {
		b.offs = append(b.offs, int32(k))
		_, size := utf8.DecodeRune(b.word[k:])
		k += size
	}
	b.offs = append(b.offs, int32(len(b.word)))
	runes := len(b.offs) - 1
	for s := 0; s < runes; s++ {
		h := seedChar
		for n := 1; n <= hi && s+n <= runes; n++ {
			for _, ch := range b.word[b.offs[s+n-1]:b.offs[s+n]] {
				h = (h ^ uint32(ch)) * fnvPrime
			}
			if n >= lo {
				b.Idx = append(b.Idx, bucket(h^uint32(n)<<24, shift))
			}
		}
	}
}

// Windows appends the token spans scored for a text of n tokens: one span if
// the text fits a window, else windows every Stride tokens with the last one
// aligned to the end; and with Sentences, every sentence of at least
// minSentence and fewer than Window tokens. breaks are the sentence ends
// (Buf.Breaks).
func (c Config) Windows(dst []Span, n int, breaks []int32) []Span {
	w, s := int(c.Window), int(c.Stride)
	if n <= w {
		dst = append(dst, Span{0, n})
	} else {
		start := 0
		for ; start+w < n; start += s {
			dst = append(dst, Span{start, start + w})
		}
		dst = append(dst, Span{n - w, n})
	}
	if !c.Sentences || len(breaks) == 0 {
		return dst
	}
	prev := 0
	for _, b := range breaks {
		end := int(b) + 1
		if l := end - prev; l >= minSentence && l < min(w, n) {
			dst = append(dst, Span{prev, end})
		}
		prev = end
	}
	if l := n - prev; prev > 0 && l >= minSentence && l < min(w, n) {
		dst = append(dst, Span{prev, n})
	}
	return dst
}

// minSentence is the shortest sentence, in tokens with its final
// punctuation, that is scored on its own: "ok ." is not a window.
const minSentence = 4

// endsSentence reports punctuation tokens that end a sentence ("." "?!"
// "\".") and separator runs ("-----", "====") that end a section.
func endsSentence(tok []byte) bool {
	stop, run := false, 0
	for i, c := range tok {
		switch {
		case c == '.' || c == '!' || c == '?':
			stop = true
		case c == '-' || c == '=' || c == '_' || c == '*' || c == '#' || c == '~':
			if i > 0 && tok[i-1] == c {
				run++
			}
		case c == '"' || c == '\'' || c == ')' || c == ']':
		default:
			return false
		}
	}
	return stop || run >= 2
}

func hashBytes(h uint32, b []byte) uint32 {
	for _, c := range b {
		h = (h ^ uint32(c)) * fnvPrime
	}
	return h
}

// bucket maps a hash to one of 1<<(32-shift) buckets by Fibonacci hashing,
// which takes the well-mixed high bits of the product.
func bucket(h, shift uint32) uint32 { return (h * 0x9E3779B1) >> shift }

// mix is the murmur3 finaliser; FNV alone spreads short keys poorly over the
// low bits that the bucket mask keeps.
func mix(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func isNumber(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// hasLetter reports whether tok has anything besides ASCII punctuation and
// digits; punctuation runs get no character n-grams.
func hasLetter(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c >= 'a' && c <= 'z' {
			return true
		}
	}
	return false
}
