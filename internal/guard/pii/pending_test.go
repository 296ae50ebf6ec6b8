// SPDX-License-Identifier: Apache-2.0

package pii_test

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/bulwarkai/bulwark/internal/guard/pii"
)

// checkPending checks the entity.Pender contract on one text cut at cut:
// with p = Pending(text[:cut]), the findings of the whole text that start
// before p are findings of the prefix, and the prefix's findings that end
// by p are findings of the whole text.
func checkPending(t *testing.T, d *pii.Detector, text string, cut int) {
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

// FuzzPending checks the Pender contract the stream guard relies on to
// release text before MaxLen bytes have followed it.
func FuzzPending(f *testing.F) {
	for _, tt := range findTests {
		f.Add(tt.text, uint16(len(tt.text)/2))
		f.Add("x "+tt.text+" and more text", uint16(len(tt.text)/3+2))
	}
	d, err := pii.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string, cut uint16) {
		if len(text) > 8<<10 {
			return
		}
		checkPending(t, d, text, int(cut))
	})
}

// TestPendingEveryCut checks the Pender contract at every cut of the unit
// table's texts, and that prose settles up to its last word.
func TestPendingEveryCut(t *testing.T) {
	d, err := pii.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range findTests {
		t.Run(tt.name, func(t *testing.T) {
			text := "Sure, here it is: " + tt.text + " Let me know, my friend, on Street Road Avenue office."
			for cut := 0; cut <= len(text); cut++ {
				checkPending(t, d, text, cut)
			}
		})
	}
	prose := "The quick brown fox jumps over the lazy dog, twice. "
	for _, tc := range []struct {
		name, text string
		want       int
	}{
		{"ends with a space", prose, len(prose)},
		{"ends inside a word", prose + "Aga", len(prose)},
		{"open e-mail address", prose + "write to ann.lee@exam", len(prose) + len("write to ")},
		{"number", prose + "call 415 555", len(prose) + len("call 415 555") - len("415 555") - 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.Pending(tc.text); got != tc.want {
				t.Errorf("Pending(%q) = %d, want %d", tc.text, got, tc.want)
			}
		})
	}
}
