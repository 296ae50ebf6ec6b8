// SPDX-License-Identifier: Apache-2.0

package jsonlex

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestUnquote(t *testing.T) {
	for _, tt := range []struct {
		name, raw, want string
		ok              bool
	}{
		{"plain", `hello`, "hello", true},
		{"escapes", `a\"b\\c\/d\b\f\n\r\t`, "a\"b\\c/d\b\f\n\r\t", true},
		{"bmp", `caf\u00e9 \u20AC`, "café €", true},
		{"pair", `\ud83d\ude00`, "😀", true},
		{"lone high", `\ud83dx`, "\uFFFDx", true},
		{"lone low", `\ude00`, "\uFFFD", true},
		{"high then high", `\ud83d\ud83d\ude00`, "\uFFFD😀", true},
		{"high then bad hex", `\ud83d\uzzzz`, "\uFFFD", false},
		{"invalid utf-8", "a\xffb\xc3", "a\uFFFDb\uFFFD", true},
		{"short u", `\u12`, "", false},
		{"bad escape", `\x`, "", false},
		{"trailing backslash", `ab\`, "ab", false},
		{"control", "a\nb", "a", false},
		{"quote", `a"b`, "a", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Unquote(nil, []byte(tt.raw))
			if ok != tt.ok || (ok && string(got) != tt.want) {
				t.Errorf("Unquote(%q) = %q, %v; want %q, %v", tt.raw, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestUnicode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		r    rune
		n    int
		okay bool
	}{
		{`\u0041`, 'A', 6, true},
		{`\ud83d\ude00`, 0x1F600, 12, true},
		{`\ud83d`, 0xD83D, 6, true},
		{`\ud83d\u0041`, 0xD83D, 6, true},
		{`\ud83d\ude0`, 0xD83D, 6, true},
		{`\ude00\ud83d`, 0xDE00, 6, true},
		{`\u00g0`, 0, 0, false},
		{`\u`, 0, 0, false},
	} {
		r, n, ok := Unicode([]byte(tt.in), 0)
		if r != tt.r || n != tt.n || ok != tt.okay {
			t.Errorf("Unicode(%q) = %U, %d, %v; want %U, %d, %v", tt.in, r, n, ok, tt.r, tt.n, tt.okay)
		}
	}
}

func TestNumber(t *testing.T) {
	for _, tt := range []struct {
		in  string
		end int
		ok  bool
	}{
		{"0", 1, true},
		{"-12.5e+3,", 8, true},
		{"01", 1, true},
		{"1E9]", 3, true},
		{"-", 0, false},
		{"", 0, false},
		{"x", 0, false},
		{"1.", 2, false},
		{"1.e5", 2, false},
		{"1e", 2, false},
		{"1e+", 3, false},
	} {
		end, ok := Number([]byte(tt.in), 0)
		if end != tt.end || ok != tt.ok {
			t.Errorf("Number(%q) = %d, %v; want %d, %v", tt.in, end, ok, tt.end, tt.ok)
		}
	}
}

func TestSkipString(t *testing.T) {
	for _, tt := range []struct {
		in          string
		end         int
		escaped, ok bool
	}{
		{`"ab" `, 4, false, true},
		{`"a\"b"`, 6, true, true},
		{`"a\x"`, 5, true, true}, // escapes are stepped over, not checked
		{`"ab`, 3, false, false},
		{`"a\`, 3, false, false},
		{"\"a\tb\"", 2, false, false},
	} {
		end, escaped, ok := SkipString([]byte(tt.in), 0)
		if end != tt.end || escaped != tt.escaped || ok != tt.ok {
			t.Errorf("SkipString(%q) = %d, %v, %v; want %d, %v, %v", tt.in, end, escaped, ok, tt.end, tt.escaped, tt.ok)
		}
	}
}

// FuzzUnquote holds Unquote to encoding/json's decoding of the same string.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`plain`, `a\"b\n`, `\ud83d\ude00`, `\ud83d`, `\ude00\ud83d`, "\xff\xc3", `\u12`, `\x`, "a\x01", `a"b`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		lit := append(append([]byte{'"'}, raw...), '"')
		var want string
		jsonErr := json.Unmarshal(lit, &want)
		got, ok := Unquote(nil, raw)
		if ok != (jsonErr == nil) {
			t.Fatalf("Unquote(%q) ok = %v, encoding/json error = %v", raw, ok, jsonErr)
		}
		if ok && string(got) != want {
			t.Fatalf("Unquote(%q) = %q, encoding/json = %q", raw, got, want)
		}
		if ok && !utf8.Valid(got) {
			t.Fatalf("Unquote(%q) = %q, not valid UTF-8", raw, got)
		}
	})
}

// FuzzLex checks Number and SkipString against encoding/json's idea of a
// valid value, and that nothing reads outside the input.
func FuzzLex(f *testing.F) {
	for _, s := range []string{`-0.5e10`, `12`, `1.`, `"a\"b"`, `"a`, "  \t\n1", `true`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		i := SkipSpace(b, 0)
		if i < len(b) && bytes.IndexByte([]byte(" \t\n\r"), b[i]) >= 0 {
			t.Fatalf("SkipSpace(%q) stopped at whitespace %d", b, i)
		}
		b = b[i:]
		if end, ok := Number(b, 0); ok != (end > 0 && json.Valid(b[:end])) {
			t.Fatalf("Number(%q) = %d, %v; json.Valid of the span disagrees", b, end, ok)
		} else if v := bytes.TrimRight(b, " \t\n\r"); json.Valid(v) && len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') && (end != len(v) || !ok) {
			t.Fatalf("Number(%q) = %d, %v; want the whole valid number", b, end, ok)
		}
		if len(b) > 0 && b[0] == '"' {
			end, _, ok := SkipString(b, 0)
			if end > len(b) {
				t.Fatalf("SkipString(%q) = %d, past the end", b, end)
			}
			if v := bytes.TrimRight(b, " \t\n\r"); json.Valid(v) && (!ok || end != len(v)) {
				t.Fatalf("SkipString(%q) = %d, %v on a valid string", b, end, ok)
			}
			if ok {
				if _, decoded := Unquote(nil, b[1:end-1]); decoded != json.Valid(b[:end]) {
					t.Fatalf("SkipString+Unquote(%q) = %v, json.Valid disagrees", b[:end], decoded)
				}
			}
		}
		if n := SkimNumber(b, 0); n > len(b) {
			t.Fatalf("SkimNumber(%q) = %d, past the end", b, n)
		}
	})
}
