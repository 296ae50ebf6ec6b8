// SPDX-License-Identifier: Apache-2.0

package secrets_test

import (
	"strings"
	"testing"

	"github.com/bulwarkai/bulwark/internal/guard/detectortest"
	"github.com/bulwarkai/bulwark/internal/guard/secrets"
)

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
		detectortest.CheckPending(t, d, text, int(cut))
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
