// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

func TestPatternDetector(t *testing.T) {
	g := &config.Guard{Words: []string{"nightfall", "Operation Nightfall", "c++"},
		Patterns: []config.GuardPattern{{Name: "TICKET", Regex: `PRJ-[0-9]{4}`}}}
	d, err := newPatternDetector(g)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		text string
		want []entity.Finding
	}{
		{name: "case-insensitive whole word", text: "the NightFall plan", want: []entity.Finding{{Start: 4, End: 13, Type: wordType}}},
		{name: "longest phrase wins", text: "operation nightfall!", want: []entity.Finding{{Start: 0, End: 19, Type: wordType}}},
		{name: "inside a word", text: "nightfalls and xnightfall", want: nil},
		{name: "regex", text: "see PRJ-1234.", want: []entity.Finding{{Start: 4, End: 12, Type: "TICKET"}}},
		{name: "non-ASCII text uses the regexp", text: "é nightfall", want: []entity.Finding{{Start: 3, End: 12, Type: wordType}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := d.Find(tt.text, nil)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Find(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

// FuzzWordsMatchRegexp checks the fast word matcher against the regexp
// it replaces on ASCII text.
func FuzzWordsMatchRegexp(f *testing.F) {
	f.Add("the nightfall of Bluebird_x bluebird.", "nightfall")
	f.Add("a c++ b", "c++")
	f.Fuzz(func(t *testing.T, text, word string) {
		word = strings.TrimSpace(word)
		if word == "" || !isASCII(text) || !isASCII(word) {
			return
		}
		d, err := newPatternDetector(&config.Guard{Words: []string{word}})
		if err != nil {
			return
		}
		re := regexp.MustCompile(`(?i)\b(?:` + regexp.QuoteMeta(word) + `)\b`)
		var want []entity.Finding
		for _, m := range re.FindAllStringIndex(text, -1) {
			want = append(want, entity.Finding{Start: m[0], End: m[1], Type: wordType})
		}
		got := entity.Merge(d.findWords(text, nil))
		// Overlapping occurrences: the regexp takes them left to right
		// without overlap, Merge keeps the earliest; both cover the same.
		if len(want) > 0 && len(got) == 0 || len(want) == 0 && len(got) > 0 {
			t.Errorf("findWords(%q, %q) = %v, regexp %v", text, word, got, want)
		}
	})
}
