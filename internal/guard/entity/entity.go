// SPDX-License-Identifier: Apache-2.0

package entity

import (
	"cmp"
	"slices"
)

// Finding is one detected value. Start and End are byte offsets into the
// scanned string (text[Start:End] is the value) and always fall on UTF-8
// boundaries. Type is an upper-case entity name such as "EMAIL" or "JWT";
// the redactor uses it verbatim in placeholders like [EMAIL_1].
type Finding struct {
	Start, End int
	Type       string
}

// Len returns the length of the finding in bytes.
func (f Finding) Len() int { return f.End - f.Start }

// Detector finds entities in text.
//
// Implementations must be safe for concurrent use: one Detector is built
// at configuration time and shared by every request.
type Detector interface {
	// Find appends the findings in text to dst and returns the extended
	// slice. It reuses dst's spare capacity so that a caller which keeps
	// one buffer per request does not allocate on clean text. The appended
	// findings are sorted by Start and do not overlap.
	Find(text string, dst []Finding) []Finding

	// Types returns the entity types the detector was configured to report.
	Types() []string

	// MaxLen bounds, in bytes, the reach of the text that decides any
	// single finding: the value itself plus whatever context before or
	// after it the detector inspects (a "phone:" label, a "version"
	// keyword, the END line of a PEM block).
	//
	// Findings are therefore local: scanning any window of a text yields
	// exactly the findings of the whole text that lie at least MaxLen
	// bytes inside the window (or touch the text's own start or end).
	// Any finding that overlaps such a finding, and could win a merge
	// against it, has its own deciding text inside the window too. The
	// detector packages fuzz this property (FuzzLocality). A streaming
	// caller can thus keep MaxLen bytes of already-released text in front
	// of what it holds, scan, and treat findings that end within MaxLen
	// bytes of the end of its buffer as provisional.
	MaxLen() int
}

// Pender is optional for a Detector: it tells a streaming caller how much
// of a text growing at its end is settled, so the caller can hold back only
// what may still be part of a value instead of a fixed MaxLen.
//
// Pending(text) returns p, 0 <= p <= len(text), such that for any text
// more appended later:
//
//   - every finding of Find(text+more) that starts before p is a finding of
//     Find(text) (nothing new, grown or shrunk starts before p), and
//   - every finding of Find(text) that ends at or before p is a finding of
//     Find(text+more).
//
// A caller may therefore release text up to p once it has moved p back to
// the start of any finding of Find(text) that straddles it. p is len(text)
// when nothing is pending. Implementations should be cheap: they look at
// the end of text, not the whole of it. The detector packages fuzz this
// contract (FuzzPending).
type Pender interface {
	Pending(text string) int
}

// Pending returns d's settled prefix of text (see Pender). A detector
// that does not implement Pender settles only what lies MaxLen bytes
// before the end.
func Pending(d Detector, text string) int {
	if p, ok := d.(Pender); ok {
		return p.Pending(text)
	}
	return max(0, len(text)-d.MaxLen())
}

// Merge resolves overlaps among findings that may come from several
// detectors. Among overlapping findings the longest wins; between equally
// long ones the earliest wins; between identical ranges the one that comes
// first in fs wins (so callers order detectors by preference). The result
// is sorted by Start and reuses fs's backing array; fs is clobbered.
//
// Merge works cluster by cluster (a run of transitively overlapping
// findings), so its cost is O(n log n) plus the square of the largest
// cluster, which in practice is a handful of findings.
func Merge(fs []Finding) []Finding {
	if len(fs) < 2 {
		return fs
	}
	// Stable so that identical ranges keep the caller's preference order.
	slices.SortStableFunc(fs, func(a, b Finding) int { return cmp.Compare(a.Start, b.Start) })
	out := 0
	for i := 0; i < len(fs); {
		// Find the cluster fs[i:j]: everything reachable by overlap.
		j, end := i+1, fs[i].End
		for j < len(fs) && fs[j].Start < end {
			end = max(end, fs[j].End)
			j++
		}
		if j == i+1 {
			fs[out] = fs[i]
			out++
			i = j
			continue
		}
		cl := fs[i:j]
		slices.SortStableFunc(cl, func(a, b Finding) int {
			if c := cmp.Compare(b.Len(), a.Len()); c != 0 {
				return c
			}
			return cmp.Compare(a.Start, b.Start)
		})
		kept := 0
		for _, f := range cl {
			ok := true
			for _, k := range cl[:kept] {
				if f.Start < k.End && k.Start < f.End {
					ok = false
					break
				}
			}
			if ok {
				cl[kept] = f
				kept++
			}
		}
		slices.SortFunc(cl[:kept], func(a, b Finding) int { return cmp.Compare(a.Start, b.Start) })
		// out <= i, so copying forward never overwrites unread findings.
		out += copy(fs[out:], cl[:kept])
		i = j
	}
	return fs[:out]
}

// Combine returns a Detector that runs ds in order and merges their
// findings with Merge, so earlier detectors win ties on identical ranges.
func Combine(ds ...Detector) Detector {
	return combined(slices.Clone(ds))
}

type combined []Detector

func (c combined) Find(text string, dst []Finding) []Finding {
	n := len(dst)
	for _, d := range c {
		dst = d.Find(text, dst)
	}
	merged := Merge(dst[n:])
	return dst[:n+len(merged)]
}

func (c combined) Types() []string {
	var ts []string
	for _, d := range c {
		for _, t := range d.Types() {
			if !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	return ts
}

func (c combined) MaxLen() int {
	m := 0
	for _, d := range c {
		m = max(m, d.MaxLen())
	}
	return m
}

// Pending implements Pender: the least of the detectors' settled points.
func (c combined) Pending(text string) int {
	p := len(text)
	for _, d := range c {
		p = min(p, Pending(d, text))
	}
	return p
}
