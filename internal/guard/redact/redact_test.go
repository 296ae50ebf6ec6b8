// SPDX-License-Identifier: Apache-2.0

package redact_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
	"github.com/bulwarkai/bulwark/internal/guard/pii"
	"github.com/bulwarkai/bulwark/internal/guard/redact"
)

// at builds a finding for the first occurrence of value in text.
func at(text, value, typ string) entity.Finding {
	i := strings.Index(text, value)
	if i < 0 {
		panic(fmt.Sprintf("%q not in %q", value, text))
	}
	return entity.Finding{Start: i, End: i + len(value), Type: typ}
}

func TestRedact(t *testing.T) {
	const text = "ann@x.io wrote to bob@y.io; cc ann@x.io, call +1-415-555-0132"
	tests := []struct {
		name     string
		findings []entity.Finding
		want     string
	}{
		{name: "none", want: text},
		{
			name: "numbered per type, repeated value reuses its placeholder",
			findings: []entity.Finding{
				{Start: 0, End: 8, Type: "EMAIL"}, {Start: 18, End: 26, Type: "EMAIL"},
				{Start: 31, End: 39, Type: "EMAIL"}, at(text, "+1-415-555-0132", "PHONE"),
			},
			want: "[EMAIL_1] wrote to [EMAIL_2]; cc [EMAIL_1], call [PHONE_1]",
		},
		{
			name: "unsorted and overlapping input is merged",
			findings: []entity.Finding{
				at(text, "+1-415-555-0132", "PHONE"), {Start: 18, End: 26, Type: "EMAIL"},
				{Start: 22, End: 24, Type: "NOISE"}, {Start: 0, End: 8, Type: "EMAIL"},
			},
			want: "[EMAIL_1] wrote to [EMAIL_2]; cc ann@x.io, call [PHONE_1]",
		},
		{
			name:     "out of range findings are ignored",
			findings: []entity.Finding{{Start: 0, End: 8, Type: "EMAIL"}, {Start: 50, End: 500, Type: "EMAIL"}, {Start: 5, End: 5, Type: "EMAIL"}},
			want:     "[EMAIL_1] wrote to bob@y.io; cc ann@x.io, call +1-415-555-0132",
		},
		{
			name:     "types are sanitised",
			findings: []entity.Finding{{Start: 0, End: 8, Type: "e-mail addr"}, {Start: 18, End: 26, Type: "]["}},
			want:     "[E_MAIL_ADDR_1] wrote to [___1]; cc ann@x.io, call +1-415-555-0132",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := redact.New(redact.Mask)
			in := append([]entity.Finding(nil), tt.findings...)
			got := r.Redact(text, in)
			if got != tt.want {
				t.Errorf("Redact() = %q, want %q", got, tt.want)
			}
			if diff := cmp.Diff(tt.findings, in); diff != "" {
				t.Errorf("Redact modified its findings (-before +after):\n%s", diff)
			}
		})
	}
}

func TestAcrossMessages(t *testing.T) {
	r := redact.New(redact.Redact)
	a := "mail ann@x.io"
	b := "and ann@x.io or zed@z.io"
	gotA := r.Redact(a, []entity.Finding{at(a, "ann@x.io", "EMAIL")})
	gotB := r.Redact(b, []entity.Finding{at(b, "ann@x.io", "EMAIL"), at(b, "zed@z.io", "EMAIL")})
	if want := "mail [EMAIL_1]"; gotA != want {
		t.Errorf("first Redact = %q, want %q", gotA, want)
	}
	if want := "and [EMAIL_1] or [EMAIL_2]"; gotB != want {
		t.Errorf("second Redact = %q, want %q", gotB, want)
	}
	if got := r.Len(); got != 2 {
		t.Errorf("Len() = %d, want 2", got)
	}
	// Redact mode keeps no originals.
	if got := r.Restore(gotB); got != gotB {
		t.Errorf("Restore() in Redact mode = %q, want input unchanged", got)
	}
}

// maskRedactor returns a Mask redactor that has issued [EMAIL_1],
// [EMAIL_2] and [CREDIT_CARD_1] ... [CREDIT_CARD_10].
func maskRedactor(t testing.TB) *redact.Redactor {
	r := redact.New(redact.Mask)
	text := "ann@x.io bob@y.io"
	r.Redact(text, []entity.Finding{at(text, "ann@x.io", "EMAIL"), at(text, "bob@y.io", "EMAIL")})
	for i := range 10 {
		v := fmt.Sprintf("4111-0000-0000-%04d", i)
		r.Redact(v, []entity.Finding{{Start: 0, End: len(v), Type: "CREDIT_CARD"}})
	}
	return r
}

func TestRestore(t *testing.T) {
	r := maskRedactor(t)
	tests := []struct {
		name, in, want string
	}{
		{"plain", "no placeholders", "no placeholders"},
		{"one", "Hi [EMAIL_1]!", "Hi ann@x.io!"},
		{"adjacent", "[EMAIL_1][EMAIL_2]", "ann@x.io" + "bob@y.io"},
		{"nested brackets", "[[EMAIL_2]]", "[bob@y.io]"},
		{"two digit", "[CREDIT_CARD_10] vs [CREDIT_CARD_1]", "4111-0000-0000-0009 vs 4111-0000-0000-0000"},
		{"unknown number", "[EMAIL_3]", "[EMAIL_3]"},
		{"unknown type", "[PHONE_1]", "[PHONE_1]"},
		{"lower case", "[email_1]", "[email_1]"},
		{"unterminated", "[EMAIL_1 and [EMAIL_2]", "[EMAIL_1 and bob@y.io"},
		{"markdown link", "[see](http://x) [EMAIL_1]", "[see](http://x) ann@x.io"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Restore(tt.in); got != tt.want {
				t.Errorf("Restore(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// stream feeds chunks through a fresh Restorer.
func stream(r *redact.Redactor, chunks []string) string {
	s := r.NewRestorer()
	var b strings.Builder
	for _, c := range chunks {
		b.WriteString(s.Write(c))
	}
	b.WriteString(s.Flush())
	return b.String()
}

func TestRestorerEverySplit(t *testing.T) {
	r := maskRedactor(t)
	const text = "Dear [EMAIL_1], card [CREDIT_CARD_10] and [CREDIT_CARD_1]; [EMAIL_9] [EMAIL_"
	want := r.Restore(text)
	for i := 0; i <= len(text); i++ {
		for j := i; j <= len(text); j++ {
			chunks := []string{text[:i], text[i:j], text[j:]}
			if got := stream(r, chunks); got != want {
				t.Fatalf("stream(%q) = %q, want %q", chunks, got, want)
			}
		}
	}
}

func TestRestorerHoldsOnlyPlaceholderPrefixes(t *testing.T) {
	r := maskRedactor(t)
	tests := []struct {
		name, chunk, want string
	}{
		{"no bracket", "hello ", "hello "},
		{"possible placeholder", "hi [EMA", "hi "},
		{"cannot be a known placeholder", "see [PHO", "see [PHO"},
		{"markdown", "a [link", "a [link"},
		{"complete", "[EMAIL_2] ok", "bob@y.io ok"},
		{"prefix of two digit", "[CREDIT_CARD_1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := r.NewRestorer()
			if got := s.Write(tt.chunk); got != tt.want {
				t.Errorf("Write(%q) = %q, want %q", tt.chunk, got, tt.want)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	r := redact.New(redact.Mask)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				v := fmt.Sprintf("u%d-%d@x.io", g, i%5)
				red := r.Redact(v, []entity.Finding{{Start: 0, End: len(v), Type: "EMAIL"}})
				if got := r.Restore(red); got != v {
					t.Errorf("Restore(%q) = %q, want %q", red, got, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := r.Len(); got != 40 {
		t.Errorf("Len() = %d, want 40", got)
	}
}

func FuzzRestorer(f *testing.F) {
	f.Add("Dear [EMAIL_1], card [CREDIT_CARD_10]", []byte{3, 7, 20})
	f.Add("[[EMAIL_2]][EMAIL_", []byte{1, 1, 1, 1})
	f.Add("[CREDIT_CARD_1][CREDIT_CARD_10][", []byte{14, 0, 2})
	f.Add("\xff[EMAIL_1\xe2\x82\xac]", []byte{2})
	r := maskRedactor(f)
	f.Fuzz(func(t *testing.T, text string, cuts []byte) {
		// Turn cuts into increasing split points.
		var chunks []string
		last := 0
		for _, c := range cuts {
			p := last + int(c)%(len(text)-last+1)
			chunks = append(chunks, text[last:p])
			last = p
		}
		chunks = append(chunks, text[last:])
		if got, want := stream(r, chunks), r.Restore(text); got != want {
			t.Fatalf("stream(%q) = %q, want Restore = %q", chunks, got, want)
		}
	})
}

// Example shows the request/response round trip the guard stage performs.
func Example() {
	det, err := pii.New()
	if err != nil {
		panic(err)
	}
	r := redact.New(redact.Mask)

	prompt := "Email ann@corp.io and bob@corp.io; ann@corp.io is the owner."
	masked := r.Redact(prompt, det.Find(prompt, nil))
	fmt.Println(masked)

	// The model answers in chunks that split a placeholder.
	s := r.NewRestorer()
	for _, chunk := range []string{"Sure, I'll write to [EM", "AIL_1] and [EMAIL_2]."} {
		fmt.Print(s.Write(chunk))
	}
	fmt.Println(s.Flush())
	// Output:
	// Email [EMAIL_1] and [EMAIL_2]; [EMAIL_1] is the owner.
	// Sure, I'll write to ann@corp.io and bob@corp.io.
}

func BenchmarkRedact(b *testing.B) {
	det, err := pii.New()
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("Contact ann@corp.io or +1-415-555-0132 about the report. ", 32)
	fs := det.Find(text, nil)
	b.ReportAllocs()
	for b.Loop() {
		redact.New(redact.Mask).Redact(text, fs)
	}
}

func BenchmarkRestorerWrite(b *testing.B) {
	r := maskRedactor(b)
	chunks := strings.SplitAfter(strings.Repeat("Sure, I will contact [EMAIL_1] about card [CREDIT_CARD_10] today. ", 8), " ")
	b.ReportAllocs()
	for b.Loop() {
		s := r.NewRestorer()
		for _, c := range chunks {
			s.Write(c)
		}
		s.Flush()
	}
}
