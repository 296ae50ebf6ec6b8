// SPDX-License-Identifier: Apache-2.0

package pii_test

import (
	"testing"

	"github.com/bulwarkai/bulwark/internal/guard/detectortest"
	"github.com/bulwarkai/bulwark/internal/guard/pii"
)

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
		detectortest.CheckPending(t, d, text, int(cut))
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
			detectortest.CheckPendingEveryCut(t, d, text)
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
