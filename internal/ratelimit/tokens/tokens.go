// SPDX-License-Identifier: Apache-2.0

package tokens

import (
	"unicode"
	"unicode/utf8"

	"github.com/bulwarkai/bulwark/internal/llm"
)

// Per-piece costs, fitted on testdata/corpus against the larger of the
// cl100k_base and o200k_base counts (testdata/counts.json), leaning high:
// see TestEstimateError for the bounds. Costs are in thousandths of a token
// so the arithmetic stays in integers. They are variables only so that a
// refit can sweep them; nothing changes them at run time.
var (
	// asciiWordShort letters or fewer make one token ("the", "gate").
	asciiWordShort = 5
	// asciiExtra is charged per letter beyond asciiWordShort.
	asciiExtra = 350
	// latinExt is per ASCII letter of a word that also has non-ASCII
	// Latin letters, which cost latinExtLetter each.
	latinExt       = 400
	latinExtLetter = 1000
	// cyrillic is per letter.
	cyrillic = 600
	// greek and hebrew are per letter: cl100k has few merges for them.
	greek  = 1050
	hebrew = 1050
	// arabic is per letter.
	arabic = 800
	// other: brahmic scripts (Devanagari, Bengali, Tamil...), Thai and
	// everything else, per character.
	other = 1200
	// cjk: Han and kana, per character.
	cjk = 1300
	// hangul: per syllable.
	hangul = 1250
	// digitGroup: digits are grouped by at most three.
	digitGroup = 3
	// punct is per ASCII punctuation or symbol character in a run after
	// the first, which costs a whole token.
	punct = 350
	// symbol is per non-ASCII symbol (emoji, arrows, box drawing).
	symbol = 2000
)

// Count estimates the BPE tokens of s.
func Count(s string) int {
	milli := 0
	for i := 0; i < len(s); {
		r, _ := decode(s, i)
		switch {
		case isLetter(r):
			n, j := word(s, i)
			milli += n
			i = j
		case isNumber(r):
			j := i
			digits := 0
			for j < len(s) {
				r2, sz := decode(s, j)
				if !isNumber(r2) {
					break
				}
				digits++
				j += sz
			}
			milli += (digits + digitGroup - 1) / digitGroup * 1000
			i = j
		case r == ' ' || r == '\t':
			// A single space joins the next word; longer runs (indentation)
			// are one token.
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			if j-i > 1 || j == len(s) || s[j] == '\n' || s[j] == '\r' {
				milli += 1000
			}
			i = j
		case r == '\n' || r == '\r' || isSpace(r):
			j := i
			for j < len(s) {
				r2, sz := decode(s, j)
				if !isSpace(r2) {
					break
				}
				j += sz
			}
			milli += 1000
			i = j
		default:
			// A run of punctuation and symbols: one token at least.
			j := i
			run := 0
			for j < len(s) {
				r2, sz := decode(s, j)
				if isLetter(r2) || isSpace(r2) || isNumber(r2) {
					break
				}
				switch {
				case r2 >= utf8.RuneSelf:
					run += symbol
				case run == 0:
					run = 1000
				default:
					run += punct
				}
				j += sz
			}
			// A lone punctuation mark before a word is part of that word's
			// token ("'s", ".Field", "(x"), as in the BPE pre-tokenizer.
			if j-i == 1 && j < len(s) {
				if r2, _ := decode(s, j); isLetter(r2) {
					i = j
					continue
				}
			}
			milli += max(run, 1000)
			i = j
		}
	}
	return (milli + 999) / 1000
}

// decode is utf8.DecodeRuneInString with a fast path for ASCII.
func decode(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isNumber(r rune) bool {
	return r >= '0' && r <= '9' || r >= utf8.RuneSelf && unicode.IsNumber(r)
}

func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || r >= '\t' && r <= '\r'
	}
	return unicode.IsSpace(r)
}

func isLetter(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r))
}

// word charges the letter run starting at i and returns its cost in
// thousandths of a token and where it ends.
func word(s string, i int) (int, int) {
	ascii, cost, j := 0, 0, i
	allASCII := true
	for j < len(s) {
		r, sz := decode(s, j)
		if !isLetter(r) {
			break
		}
		j += sz
		switch {
		case r < utf8.RuneSelf:
			ascii++
		case unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r):
			allASCII = false
			cost += cjk
		case unicode.Is(unicode.Hangul, r):
			allASCII = false
			cost += hangul
		case unicode.Is(unicode.Latin, r):
			allASCII = false
			cost += latinExtLetter
		case unicode.Is(unicode.Cyrillic, r):
			allASCII = false
			cost += cyrillic
		case unicode.Is(unicode.Greek, r):
			allASCII = false
			cost += greek
		case unicode.Is(unicode.Hebrew, r):
			allASCII = false
			cost += hebrew
		case unicode.Is(unicode.Arabic, r):
			allASCII = false
			cost += arabic
		default:
			allASCII = false
			cost += other
		}
	}
	if allASCII {
		return 1000 + max(0, ascii-asciiWordShort)*asciiExtra, j
	}
	cost += ascii * latinExt
	return max(cost, 1000), j
}

// ImageTokens is charged per image, file or audio part: the most a
// high-detail image costs on OpenAI models (a 2048x768 tiling).
const ImageTokens = 1105

// overhead is per request: the assistant reply priming.
const overhead = 3

// Prompt estimates the prompt tokens of a parsed request whose body had
// bodyLen bytes. Prompt texts are counted with Count; the rest of the body
// (message framing, tool and function schemas, response formats) is
// charged at one token per four bytes, which over-counts framing a little
// and covers schemas the parser does not read.
func Prompt(r *llm.Request, bodyLen int) int64 {
	if r == nil {
		return 0
	}
	n := int64(overhead + r.TokenInputs)
	text := 0
	for _, t := range r.Texts {
		n += int64(Count(t.Value))
		text += len(t.Value)
	}
	media := 0
	for _, m := range r.Media {
		media += len(m.URL)
	}
	n += int64(len(r.Media)) * ImageTokens
	if rest := bodyLen - text - media; rest > 0 {
		n += int64((rest + 3) / 4)
	}
	return n
}
