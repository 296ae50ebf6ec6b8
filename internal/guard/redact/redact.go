// SPDX-License-Identifier: Apache-2.0

package redact

import (
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

// Mode chooses whether originals can be restored.
type Mode uint8

const (
	// Redact replaces values and keeps no way back: the Redactor stores
	// only keyed hashes of the values (to reuse placeholders), never the
	// values themselves, and Restore returns its input unchanged.
	Redact Mode = iota
	// Mask replaces values and remembers placeholder -> original for the
	// life of the Redactor, so Restore and Restorer can undo it.
	Mask
)

// maxPlaceholder bounds the length of a placeholder, which bounds how much
// a Restorer ever holds back: '[' + type + '_' + number + ']'.
const maxPlaceholder = 64

// Redactor holds one request's placeholder assignments. It is safe for
// concurrent use, so the request and response sides of a stream may share
// it.
type Redactor struct {
	mode Mode
	seed maphash.Seed

	mu sync.Mutex
	// byValue maps a keyed hash of (type, value) to its placeholder. A
	// 64-bit collision would make two distinct values share a placeholder;
	// at the few thousand values a request can hold, the odds are ~1e-12.
	byValue map[uint64]string
	// original maps placeholder to value (Mask only).
	original map[string]string
	// sorted lists the placeholders in original, sorted, for the
	// Restorer's prefix test.
	sorted []string
	counts map[string]int
}

// New returns an empty Redactor for one request.
func New(mode Mode) *Redactor {
	return &Redactor{mode: mode, seed: maphash.MakeSeed()}
}

// Len returns how many distinct values have been replaced so far.
func (r *Redactor) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byValue)
}

// Redact returns text with every finding replaced by its placeholder.
// Findings are normally a detector's output (sorted, non-overlapping);
// others are merged first with entity.Merge on a copy, and findings that
// fall outside text are ignored. The findings slice is not modified.
func (r *Redactor) Redact(text string, findings []entity.Finding) string {
	if len(findings) == 0 {
		return text
	}
	if !ordered(findings, len(text)) {
		fs := make([]entity.Finding, 0, len(findings))
		for _, f := range findings {
			if 0 <= f.Start && f.Start < f.End && f.End <= len(text) {
				fs = append(fs, f)
			}
		}
		findings = entity.Merge(fs)
	}
	var b strings.Builder
	b.Grow(len(text) + 8*len(findings))
	r.mu.Lock()
	defer r.mu.Unlock()
	last := 0
	for _, f := range findings {
		b.WriteString(text[last:f.Start])
		b.WriteString(r.placeholderLocked(f.Type, text[f.Start:f.End]))
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String()
}

// ordered reports whether fs is sorted, non-overlapping and inside a text
// of length n.
func ordered(fs []entity.Finding, n int) bool {
	prev := 0
	for _, f := range fs {
		if f.Start < prev || f.Start >= f.End || f.End > n {
			return false
		}
		prev = f.End
	}
	return true
}

func (r *Redactor) placeholderLocked(typ, value string) string {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(typ)
	h.WriteByte(0)
	h.WriteString(value)
	key := h.Sum64()
	if p, ok := r.byValue[key]; ok {
		return p
	}
	if r.byValue == nil {
		r.byValue = make(map[uint64]string)
		r.counts = make(map[string]int)
	}
	name := sanitizeType(typ)
	r.counts[name]++
	p := "[" + name + "_" + strconv.Itoa(r.counts[name]) + "]"
	r.byValue[key] = p
	if r.mode == Mask {
		if r.original == nil {
			r.original = make(map[string]string)
		}
		r.original[p] = value
		i, _ := slices.BinarySearch(r.sorted, p)
		r.sorted = slices.Insert(r.sorted, i, p)
	}
	return p
}

// sanitizeType makes a type usable inside a placeholder: upper case
// letters, digits and '_', at most 40 bytes, never empty.
func sanitizeType(typ string) string {
	ok := typ != "" && len(typ) <= 40
	for i := 0; ok && i < len(typ); i++ {
		ok = isPlaceholderByte(typ[i])
	}
	if ok {
		return typ
	}
	b := make([]byte, 0, min(len(typ), 40))
	for i := 0; i < len(typ) && len(b) < 40; i++ {
		c := typ[i]
		switch {
		case 'a' <= c && c <= 'z':
			b = append(b, c-'a'+'A')
		case isPlaceholderByte(c):
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	if len(b) == 0 {
		return "REDACTED"
	}
	return string(b)
}

func isPlaceholderByte(c byte) bool {
	return ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || c == '_'
}

// Restore replaces every placeholder this Redactor issued with its
// original value (Mask mode); text that merely looks like a placeholder is
// left alone. In Redact mode it returns text unchanged.
//
// Note that restoration is purely textual: if the client's own text
// contained "[EMAIL_1]" before redaction, a model echoing it gets the
// original value back. That value came from the same client, so nothing
// leaks across requests.
func (r *Redactor) Restore(text string) string {
	out, _ := r.restore(text, false)
	return out
}

// restore does the work for Restore and Restorer.Write. With partial set,
// a trailing '[' that could still grow into a known placeholder is not
// emitted but returned as held.
func (r *Redactor) restore(text string, partial bool) (out, held string) {
	first := strings.IndexByte(text, '[')
	if first < 0 {
		return text, ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.original) == 0 {
		return text, ""
	}
	var b strings.Builder
	b.Grow(len(text))
	i := 0
	for p := first; p >= 0; {
		k := p + 1
		for k < len(text) && k-p < maxPlaceholder && isPlaceholderByte(text[k]) {
			k++
		}
		switch {
		case k < len(text) && text[k] == ']':
			if v, ok := r.original[text[p:k+1]]; ok {
				b.WriteString(text[i:p])
				b.WriteString(v)
				i = k + 1
			}
		case k == len(text) && partial && r.isPrefixLocked(text[p:]):
			b.WriteString(text[i:p])
			return b.String(), text[p:]
		}
		// Continue at the next '[' after this one. Bytes between p and k
		// are placeholder bytes, so no '[' hides among them.
		next := strings.IndexByte(text[p+1:], '[')
		if next < 0 {
			break
		}
		p = p + 1 + next
	}
	b.WriteString(text[i:])
	return b.String(), ""
}

// isPrefixLocked reports whether s is a proper prefix of an issued
// placeholder.
func (r *Redactor) isPrefixLocked(s string) bool {
	i, _ := slices.BinarySearch(r.sorted, s)
	return i < len(r.sorted) && len(r.sorted[i]) > len(s) && strings.HasPrefix(r.sorted[i], s)
}
