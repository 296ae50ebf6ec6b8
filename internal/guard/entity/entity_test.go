// SPDX-License-Identifier: Apache-2.0

package entity_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

func f(start, end int, typ string) entity.Finding {
	return entity.Finding{Start: start, End: end, Type: typ}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name string
		in   []entity.Finding
		want []entity.Finding
	}{
		{name: "empty", in: nil, want: nil},
		{name: "single", in: []entity.Finding{f(1, 3, "A")}, want: []entity.Finding{f(1, 3, "A")}},
		{
			name: "disjoint are sorted",
			in:   []entity.Finding{f(10, 12, "B"), f(0, 2, "A"), f(5, 6, "C")},
			want: []entity.Finding{f(0, 2, "A"), f(5, 6, "C"), f(10, 12, "B")},
		},
		{
			name: "touching ranges do not overlap",
			in:   []entity.Finding{f(0, 5, "A"), f(5, 9, "B")},
			want: []entity.Finding{f(0, 5, "A"), f(5, 9, "B")},
		},
		{
			name: "longest wins even when it starts later",
			in:   []entity.Finding{f(0, 10, "SHORT"), f(5, 30, "LONG")},
			want: []entity.Finding{f(5, 30, "LONG")},
		},
		{
			name: "earliest wins between equal lengths",
			in:   []entity.Finding{f(4, 10, "LATE"), f(2, 8, "EARLY")},
			want: []entity.Finding{f(2, 8, "EARLY")},
		},
		{
			name: "identical ranges keep input order",
			in:   []entity.Finding{f(3, 9, "FIRST"), f(3, 9, "SECOND")},
			want: []entity.Finding{f(3, 9, "FIRST")},
		},
		{
			name: "chain keeps both ends when the middle loses",
			// B overlaps A and C, A and C do not overlap each other; the
			// longest (A, then C) survive and B goes.
			in:   []entity.Finding{f(0, 10, "A"), f(8, 14, "B"), f(12, 21, "C")},
			want: []entity.Finding{f(0, 10, "A"), f(12, 21, "C")},
		},
		{
			name: "nested is absorbed",
			in:   []entity.Finding{f(2, 4, "IN"), f(0, 20, "OUT"), f(25, 30, "AFTER")},
			want: []entity.Finding{f(0, 20, "OUT"), f(25, 30, "AFTER")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := entity.Merge(append([]entity.Finding(nil), tt.in...))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Merge(%v) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// substr is a toy detector reporting every occurrence of a literal.
type substr struct{ lit, typ string }

func (s substr) Find(text string, dst []entity.Finding) []entity.Finding {
	for i := 0; ; {
		j := strings.Index(text[i:], s.lit)
		if j < 0 {
			return dst
		}
		dst = append(dst, entity.Finding{Start: i + j, End: i + j + len(s.lit), Type: s.typ})
		i += j + len(s.lit)
	}
}
func (s substr) Types() []string { return []string{s.typ} }
func (s substr) MaxLen() int     { return len(s.lit) }

func TestCombine(t *testing.T) {
	d := entity.Combine(substr{"bob", "NAME"}, substr{"bob@x.io", "EMAIL"}, substr{"bob", "DUP"})
	prefix := []entity.Finding{f(0, 1, "KEEP")}
	got := d.Find("hi bob@x.io and bob", prefix)
	want := []entity.Finding{f(0, 1, "KEEP"), f(3, 11, "EMAIL"), f(16, 19, "NAME")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Find mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"NAME", "EMAIL", "DUP"}, d.Types()); diff != "" {
		t.Errorf("Types mismatch (-want +got):\n%s", diff)
	}
	if got, want := d.MaxLen(), 8; got != want {
		t.Errorf("MaxLen() = %d, want %d", got, want)
	}
}

func BenchmarkMerge(b *testing.B) {
	src := make([]entity.Finding, 0, 64)
	for i := range 32 {
		src = append(src, f(i*10, i*10+6, "A"), f(i*10+3, i*10+8, "B"))
	}
	buf := make([]entity.Finding, len(src))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, src)
		entity.Merge(buf)
	}
}
