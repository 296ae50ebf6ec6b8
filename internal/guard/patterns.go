// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

// wordType is the entity type of word-list matches.
const wordType = "WORD"

// patternDetector reports matches of configured regular expressions and of
// a word list. Expressions are compiled once, when the stage is built.
type patternDetector struct {
	res    []*regexp.Regexp
	names  []string
	maxLen int
	types  []string
	// words are the lower-cased word list when it is all ASCII; ASCII text
	// is then matched with strings.Index (Go's (?i) regexp with \b is two
	// orders of magnitude slower), and wordsRE is kept for other text.
	words   []string
	wordsRE *regexp.Regexp
}

var _ entity.Detector = (*patternDetector)(nil)

func newPatternDetector(g *config.Guard) (*patternDetector, error) {
	d := &patternDetector{maxLen: g.MaxMatchBytes}
	if d.maxLen <= 0 {
		d.maxLen = config.DefaultGuardMaxMatchBytes
	}
	for i, p := range g.Patterns {
		re, err := regexp.Compile(p.Regex)
		if err != nil {
			return nil, fmt.Errorf("patterns[%d]: %w", i, err)
		}
		d.res = append(d.res, re)
		d.names = append(d.names, p.Name)
	}
	if len(g.Words) > 0 {
		alts := make([]string, 0, len(g.Words))
		longest := 0
		for _, w := range g.Words {
			w = strings.TrimSpace(w)
			alts = append(alts, regexp.QuoteMeta(w))
			longest = max(longest, len(w))
		}
		// Longest first so that "operation nightfall" beats "operation".
		slices.SortStableFunc(alts, func(a, b string) int { return len(b) - len(a) })
		re, err := regexp.Compile(`(?i)\b(?:` + strings.Join(alts, "|") + `)\b`)
		if err != nil {
			return nil, fmt.Errorf("words: %w", err)
		}
		d.wordsRE = re
		ascii := true
		for _, w := range g.Words {
			w = strings.TrimSpace(w)
			ascii = ascii && isASCII(w)
			d.words = append(d.words, strings.ToLower(w))
		}
		if !ascii {
			d.words = nil
		}
		d.names = append(d.names, wordType)
		// Case folding can change byte lengths (K and the Kelvin sign);
		// the window needs the word plus a boundary byte on each side.
		d.maxLen = max(d.maxLen, 3*longest+2)
	}
	for _, n := range d.names {
		if !slices.Contains(d.types, n) {
			d.types = append(d.types, n)
		}
	}
	return d, nil
}

func (d *patternDetector) Find(text string, dst []entity.Finding) []entity.Finding {
	n := len(dst)
	for i, re := range d.res {
		for _, m := range re.FindAllStringIndex(text, -1) {
			if m[1] > m[0] {
				dst = append(dst, entity.Finding{Start: m[0], End: m[1], Type: d.names[i]})
			}
		}
	}
	switch {
	case d.words != nil && isASCII(text):
		dst = d.findWords(text, dst)
	case d.wordsRE != nil:
		for _, m := range d.wordsRE.FindAllStringIndex(text, -1) {
			dst = append(dst, entity.Finding{Start: m[0], End: m[1], Type: wordType})
		}
	}
	merged := entity.Merge(dst[n:])
	return dst[:n+len(merged)]
}

func (d *patternDetector) Types() []string { return slices.Clone(d.types) }

func (d *patternDetector) MaxLen() int { return d.maxLen + 1 }

// findWords matches the ASCII word list in ASCII text with the semantics
// of the \b(?i:...)\b expression: a match must start and end at word
// boundaries.
func (d *patternDetector) findWords(text string, dst []entity.Finding) []entity.Finding {
	lower := text
	for i := 0; i < len(text); i++ {
		if c := text[i]; 'A' <= c && c <= 'Z' {
			lower = strings.ToLower(text)
			break
		}
	}
	for _, w := range d.words {
		for i := 0; ; {
			j := strings.Index(lower[i:], w)
			if j < 0 {
				break
			}
			s, e := i+j, i+j+len(w)
			if boundary(lower, s) && boundary(lower, e) {
				dst = append(dst, entity.Finding{Start: s, End: e, Type: wordType})
			}
			i = s + 1
		}
	}
	return dst
}

// boundary reports whether \b holds at i: a word byte on one side only.
func boundary(s string, i int) bool {
	before := i > 0 && isWordByte(s[i-1])
	after := i < len(s) && isWordByte(s[i])
	return before != after
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
