// SPDX-License-Identifier: Apache-2.0

package secrets_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
	"github.com/bulwarkai/bulwark/internal/guard/secrets"
)

// checkPending checks the entity.Pender contract on one text cut at cut:
// with p = Pending(text[:cut]), the findings of the whole text that start
// before p are findings of the prefix, and the prefix's findings that end
// by p are findings of the whole text.
func checkPending(t *testing.T, d interface {
	entity.Detector
	entity.Pender
}, text string, cut int,
) {
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
	for _, tt := range findTests() {
		f.Add(tt.text, uint16(len(tt.text)/2))
		f.Add("x "+tt.text+" and more text", uint16(len(tt.text)/3+2))
	}
	d, err := secrets.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string, cut uint16) {
		if len(text) > 16<<10 {
			return
		}
		checkPending(t, d, text, int(cut))
	})
}

// TestPendingEveryCut checks the Pender contract at every cut of the unit
// table's texts, and that prose settles up to its last word.
func TestPendingEveryCut(t *testing.T) {
	d, err := secrets.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range findTests() {
		t.Run(tt.name, func(t *testing.T) {
			text := "Sure, here it is: " + tt.text + " Let me know."
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
		{"open PEM block", prose + "-----BEGIN RSA PRIVATE KEY-----\nMIIE", len(prose)},
		{"open assignment", prose + `password = "Xk9#mP2`, len(prose) + len(`password =`)},
		{"closed assignment", prose + `password = "Xk9#mP2$vL" `, len(prose) + len(`password = "Xk9#mP2$vL" `)},
		{"open URL", prose + "postgres://app:s3cr!t", len(prose) + len("postgres://")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.Pending(tc.text); got != tc.want {
				t.Errorf("Pending(%q) = %d, want %d", tc.text, got, tc.want)
			}
		})
	}
	long := strings.Repeat("A", 5000)
	if got, want := d.Pending(long), 5000-9000; got < max(0, want) || got == 5000 {
		t.Errorf("Pending(5000 x A) = %d, want a pin inside the run", got)
	}
}
