// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"unicode"
)

// This file ports what BIPIA's insert_middle needs from NLTK's
// nltk/tokenize/punkt.py (3.8): the sentence starts found by an *untrained*
// PunktSentenceTokenizer().span_tokenize. Untrained means no known
// abbreviations, collocations, sentence starters or orthographic
// statistics, so only the rules that fire on empty parameters are kept.
// Offsets are in runes, as Python indexes str by code point.

// pySpace is Python's str.isspace, which \s, \S and strip follow.
func pySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

// asciiSpace is string.whitespace, used by _get_last_whitespace_index.
func asciiSpace(r rune) bool { return strings.ContainsRune(" \t\n\r\v\f", r) }

func sentEnd(r rune) bool { return r == '.' || r == '?' || r == '!' }

// nonWord is PunktLanguageVars._re_non_word_chars.
func nonWord(r rune) bool { return strings.ContainsRune(")\";}]*:@'({[?!", r) }

// wordStart is PunktLanguageVars._re_word_start.
func wordStart(r rune) bool { return !strings.ContainsRune("(\"`{[:;&#*@)}]-,", r) }

// multiChar returns the length of _re_multi_char_punct matched at s[i:]
// (-{2,} | \.{2,} | (?:\.\s){2,}\.), or 0.
func multiChar(s []rune, i int) int {
	run := func(c rune) int {
		n := 0
		for i+n < len(s) && s[i+n] == c {
			n++
		}
		return n
	}
	if n := run('-'); n >= 2 {
		return n
	}
	if n := run('.'); n >= 2 {
		return n
	}
	p := 0
	for i+2*p+1 < len(s) && s[i+2*p] == '.' && pySpace(s[i+2*p+1]) {
		p++
	}
	switch {
	case p >= 2 && i+2*p < len(s) && s[i+2*p] == '.':
		return 2*p + 1
	case p >= 3: // backtrack one pair; its period ends the match
		return 2*p - 1
	}
	return 0
}

// wordEnd is the lookahead ending a word token in _word_tokenize_fmt.
func wordEnd(s []rune, j int) bool {
	if j >= len(s) || pySpace(s[j]) || nonWord(s[j]) || multiChar(s, j) > 0 {
		return true
	}
	return s[j] == ',' && (j+1 >= len(s) || pySpace(s[j+1]) || nonWord(s[j+1]) || multiChar(s, j+1) > 0)
}

// wordTokens is PunktLanguageVars.word_tokenize over each line, as
// _tokenize_words splits on "\n" first.
func wordTokens(text []rune) [][]rune {
	var toks [][]rune
	for _, line := range splitLines(text) {
		for i := 0; i < len(line); {
			if n := multiChar(line, i); n > 0 {
				toks = append(toks, line[i:i+n])
				i += n
				continue
			}
			c := line[i]
			switch {
			case pySpace(c):
				i++
			case wordStart(c):
				j := i + 1
				for !wordEnd(line, j) {
					j++
				}
				toks = append(toks, line[i:j])
				i = j
			default:
				toks = append(toks, line[i:i+1])
				i++
			}
		}
	}
	return toks
}

func splitLines(text []rune) [][]rune {
	var lines [][]rune
	start := 0
	for i, r := range text {
		if r == '\n' {
			lines = append(lines, text[start:i])
			start = i + 1
		}
	}
	return append(lines, text[start:])
}

// isNumber is PunktToken.type being ##number##: the whole token matches
// ^-?[\.,]?\d[\d,\.-]*\.?$.
func isNumber(t []rune) bool {
	i := 0
	if i < len(t) && t[i] == '-' {
		i++
	}
	if i < len(t) && (t[i] == '.' || t[i] == ',') {
		i++
	}
	if i >= len(t) || !unicode.IsDigit(t[i]) {
		return false
	}
	for i++; i < len(t) && (unicode.IsDigit(t[i]) || strings.ContainsRune(",.-", t[i])); i++ {
	}
	// [\d,\.-]* is greedy and may give back a final '.' to \.?; either way
	// the token matches iff nothing else is left.
	return i == len(t)
}

// isInitial is PunktToken.is_initial: [^\W\d]\.$ matched at the start,
// i.e. one letter (or underscore) and a period.
func isInitial(t []rune) bool {
	if len(t) != 2 || t[1] != '.' {
		return false
	}
	c := t[0]
	return unicode.IsLetter(c) || c == '_' || (unicode.IsNumber(c) && !unicode.IsDigit(c))
}

// containsSentbreak is PunktSentenceTokenizer.text_contains_sentbreak
// with empty parameters: is any token but the last a sentence break after
// both annotation passes?
func containsSentbreak(text []rune) bool {
	toks := wordTokens(text)
	for i := 0; i+1 < len(toks); i++ {
		tok, next := toks[i], toks[i+1]
		s := string(tok)
		var brk bool
		switch {
		case s == "." || s == "?" || s == "!":
			brk = true
		case len(tok) >= 2 && strings.Trim(s, ".") == "": // ellipsis
		case strings.HasSuffix(s, ".") && !strings.HasSuffix(s, ".."):
			brk = true
		}
		// Second pass (4.3): an initial or a number ending in a period is
		// not a break if the orthographic heuristic says the next token
		// cannot start a sentence (punctuation, or lower case: untrained,
		// no word was ever seen starting a sentence in lower case), nor an
		// initial before a capitalised word.
		if brk && strings.HasSuffix(s, ".") && (isInitial(tok) || isNumber(tok)) {
			ns := string(next)
			lower := unicode.IsLower(next[0])
			if strings.Contains(";:,.!?", ns) && len(next) == 1 || lower {
				brk = false
			} else if isInitial(tok) && unicode.IsUpper(next[0]) {
				brk = false
			}
		}
		if brk {
			return true
		}
	}
	return false
}

type span struct{ start, stop int }

// sentenceStarts returns the starts of the spans of span_tokenize(text)
// with realign_boundaries=True.
func sentenceStarts(text []rune) []int {
	var slices []span
	lastBreak := 0
	for _, m := range endContexts(text) {
		if containsSentbreak(m.context) {
			slices = append(slices, span{lastBreak, m.pos + 1})
			if m.nextTok >= 0 {
				lastBreak = m.nextTok
			} else {
				lastBreak = m.pos + 1
			}
		}
	}
	end := len(text)
	for end > 0 && pySpace(text[end-1]) {
		end--
	}
	slices = append(slices, span{lastBreak, end})

	// _realign_boundaries: closing quotes and brackets after a break move
	// into the sentence they close.
	var starts []int
	realign := 0
	for i, s1 := range slices {
		s1.start += realign
		if i == len(slices)-1 {
			if s1.start < s1.stop {
				starts = append(starts, s1.start)
			}
			break
		}
		s2 := slices[i+1]
		var sub []rune
		if s2.start < s2.stop {
			sub = text[s2.start:s2.stop]
		}
		if _, mEnd, ok := boundaryRealignment(sub); ok {
			starts = append(starts, s1.start)
			realign = mEnd
		} else {
			realign = 0
			if s1.start < s1.stop {
				starts = append(starts, s1.start)
			}
		}
	}
	return starts
}

// boundaryRealignment matches re_boundary_realignment,
// ["\')\]}]+?(?:\s+|(?=--)|$) with MULTILINE, at the start of s.
func boundaryRealignment(s []rune) (closers, end int, ok bool) {
	for n := 1; n <= len(s) && strings.ContainsRune("\"')]}", s[n-1]); n++ {
		switch {
		case n < len(s) && pySpace(s[n]):
			e := n
			for e < len(s) && pySpace(s[e]) {
				e++
			}
			return n, e, true
		case n+1 < len(s) && s[n] == '-' && s[n+1] == '-':
			return n, n, true
		case n == len(s):
			return n, n, true
		}
	}
	return 0, 0, false
}

type endContext struct {
	pos     int    // the sentence-ending character
	nextTok int    // start of the token after the whitespace, or -1
	context []rune // word before, the character, and what follows it
}

// endContexts is _match_potential_end_contexts: every [.?!] followed by a
// non-word character or by whitespace and a token, with the word before
// it; of overlapping candidates ("!!!") only the last is kept.
func endContexts(text []rune) []endContext {
	var out []endContext
	prevStart, prevStop := 0, 0
	var prev *endContext
	var prevAfter int // end of the previous match's after_tok
	for i, c := range text {
		if !sentEnd(c) || i+1 >= len(text) {
			continue
		}
		next, afterEnd := -1, 0
		switch {
		case nonWord(text[i+1]):
			afterEnd = i + 2
		case pySpace(text[i+1]):
			j := i + 1
			for j < len(text) && pySpace(text[j]) {
				j++
			}
			if j == len(text) {
				continue
			}
			k := j
			for k < len(text) && !pySpace(text[k]) {
				k++
			}
			next, afterEnd = j, k
		default:
			continue
		}
		// _get_last_whitespace_index returns 0 both for "none" and for
		// index 0; both fall back to the previous slice's start.
		start := prevStart
		for b := i - 1; b > prevStop; b-- {
			if asciiSpace(text[b]) {
				start = b + 1
				break
			}
		}
		if prev != nil && prevStop <= start {
			prev.context = concat(text[prevStart:prevStop], text[prevStop:prevAfter])
			out = append(out, *prev)
		}
		prev = &endContext{pos: i, nextTok: next}
		prevStart, prevStop, prevAfter = start, i, afterEnd
	}
	if prev != nil {
		prev.context = concat(text[prevStart:prevStop], text[prevStop:prevAfter])
		out = append(out, *prev)
	}
	return out
}

func concat(a, b []rune) []rune {
	return append(append(make([]rune, 0, len(a)+len(b)), a...), b...)
}
