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
		d.res = append(d.res, re)
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
	merged := entity.Merge(dst[n:])
	return dst[:n+len(merged)]
}

func (d *patternDetector) Types() []string { return slices.Clone(d.types) }

func (d *patternDetector) MaxLen() int { return d.maxLen + 1 }
