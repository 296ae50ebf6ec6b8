// SPDX-License-Identifier: Apache-2.0

// Package detectortest holds the contract checks and benchmark loops that
// the entity detector packages (pii, secrets) share in their tests: the
// shape of Find's findings, the MaxLen locality contract and the Pender
// hold-back contract. It imports only the entity package, so any
// detector's tests can use it.
package detectortest

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

// PendingDetector is a detector that implements entity.Pender.
type PendingDetector interface {
	entity.Detector
	entity.Pender
}

// CheckFindings checks that d.Find(text) returns findings that are sorted,
// non-empty, non-overlapping, inside text and on UTF-8 boundaries (as Go's
// range loop decodes them: a stray continuation byte is its own rune).
func CheckFindings(t testing.TB, d entity.Detector, text string) {
	t.Helper()
	bounds := make([]bool, len(text)+1)
	for i := range text {
		bounds[i] = true
	}
	bounds[len(text)] = true
	prev := 0
	for _, x := range d.Find(text, nil) {
		if x.Start < prev || x.Start >= x.End || x.End > len(text) {
			t.Fatalf("Find(%q): bad or overlapping finding %+v after %d", text, x, prev)
		}
		if !bounds[x.Start] || !bounds[x.End] {
			t.Fatalf("Find(%q): finding %+v not on a UTF-8 boundary", text, x)
		}
		prev = x.End
	}
}

// CheckLocality checks the MaxLen contract that streaming callers rely on
// on a text built by repeating unit: scanning the window [lo:hi] (lo and
// hi derived from a and b) reproduces exactly the findings of the full
// scan that lie at least MaxLen inside the window (or touch the text's
// own ends), and adds none there.
func CheckLocality(t testing.TB, d entity.Detector, unit string, a, b int) {
	t.Helper()
	if unit == "" {
		return
	}
	m := d.MaxLen()
	// Repeat the unit so the text is long enough for interior windows.
	text := strings.Repeat(unit+" ", 6*m/(len(unit)+1)+1)
	lo := a % (len(text) / 3)
	hi := len(text) - b%(len(text)/3)
	inside := func(f entity.Finding) bool {
		return (lo == 0 || f.Start >= lo+m) && (hi == len(text) || f.End <= hi-m)
	}
	want := map[entity.Finding]bool{}
	for _, f := range d.Find(text, nil) {
		if inside(f) {
			want[f] = true
		}
	}
	got := map[entity.Finding]bool{}
	for _, f := range d.Find(text[lo:hi], nil) {
		f.Start += lo
		f.End += lo
		if inside(f) {
			got[f] = true
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("window [%d:%d] of %d-byte text built from %q disagrees with the full scan (-full +window):\n%s", lo, hi, len(text), unit, diff)
	}
}

// CheckPending checks the entity.Pender contract on one text cut at cut
// (moved back to a rune start): with p = Pending(text[:cut]), p lies in
// [0, cut], the findings of the whole text that start before p are
// findings of the prefix, and the prefix's findings that end by p are
// findings of the whole text.
func CheckPending(t testing.TB, d PendingDetector, text string, cut int) {
	t.Helper()
	cut = min(cut, len(text))
	for cut > 0 && cut < len(text) && !utf8.RuneStart(text[cut]) {
		cut--
	}
	prefix := text[:cut]
	p := d.Pending(prefix)
	if p < 0 || p > len(prefix) {
		t.Fatalf("Pending(%q) = %d, outside [0, %d]", prefix, p, len(prefix))
	}
	whole := d.Find(text, nil)
	part := d.Find(prefix, nil)
	for _, f := range whole {
		if f.Start < p && !slices.Contains(part, f) {
			t.Fatalf("Pending(%q) = %d, but the whole text %q has %+v (%q) that the prefix lacks; prefix has %+v",
				prefix, p, text, f, text[f.Start:f.End], part)
		}
	}
	for _, f := range part {
		if f.End <= p && !slices.Contains(whole, f) {
			t.Fatalf("Pending(%q) = %d, but the prefix's %+v (%q) is gone from the whole text %q; whole has %+v",
				prefix, p, f, prefix[f.Start:f.End], text, whole)
		}
	}
}

// CheckPendingEveryCut runs CheckPending on text at every cut from 0 to
// len(text).
func CheckPendingEveryCut(t testing.TB, d PendingDetector, text string) {
	t.Helper()
	for cut := 0; cut <= len(text); cut++ {
		CheckPending(t, d, text, cut)
	}
}

// BenchFind runs d.Find on text as the sub-benchmark name, reporting
// bytes per second and allocations. With reuse, every call appends to
// the same buffer, as a caller keeping one per request does; without it,
// every call starts from nil.
func BenchFind(b *testing.B, d entity.Detector, name, text string, reuse bool) {
	b.Helper()
	buf := make([]entity.Finding, 0, 16)
	b.Run(name, func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			if reuse {
				buf = d.Find(text, buf[:0])
			} else {
				d.Find(text, nil)
			}
		}
	})
}
