// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var strictLimits = StrictLimits{MaxDepth: 8, MaxMessages: 3, MaxParts: 4}

var strictCases = []struct {
	name string
	body string
	want StrictKind // "" = accepted
}{
	{"chat", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, ""},
	{"whitespace around", " \n\t{\"a\":1}\r\n ", ""},
	{"scalars", `{"a":true,"b":false,"c":null,"d":-0.5e+10,"e":0,"f":"x"}`, ""},
	{"top-level array", `[1,2,[3,{"a":[]}]]`, ""},
	{"unicode", `{"text":"héllo 😀 \u00e9 \ud83d\ude00"}`, ""},
	{"escapes", `{"a":"\"\\\/\b\f\n\r\t"}`, ""},
	{"same key in sibling objects", `{"a":{"k":1},"b":{"k":2}}`, ""},
	{"case variants of unknown keys", `{"Name":1,"name":2}`, ""},
	{"many distinct keys", `{` + manyKeys(40, false) + `}`, ""},
	{"three messages", `{"messages":[{},{},{}]}`, ""},
	{"four parts over messages", `{"messages":[{"content":[1,2]},{"content":[3,4]}]}`, ""},
	{"parts only count under messages", `{"other":[{"content":[1,2,3,4,5]}]}`, ""},
	{"depth at limit", strings.Repeat("[", 8) + strings.Repeat("]", 8), ""},

	{"empty", ``, StrictSyntax},
	{"only spaces", `   `, StrictSyntax},
	{"trailing data", `{"a":1}{}`, StrictSyntax},
	{"trailing comma", `{"a":1,}`, StrictSyntax},
	{"unquoted key", `{a:1}`, StrictSyntax},
	{"single quotes", `{'a':1}`, StrictSyntax},
	{"leading zero", `{"a":01}`, StrictSyntax},
	{"bare minus", `{"a":-}`, StrictSyntax},
	{"nan", `{"a":NaN}`, StrictSyntax},
	{"bad literal", `{"a":tru}`, StrictSyntax},
	{"control char", "{\"a\":\"x\ny\"}", StrictSyntax},
	{"bad escape", `{"a":"\x41"}`, StrictSyntax},
	{"short unicode escape", `{"a":"\u12"}`, StrictSyntax},
	{"unterminated", `{"a":"abc`, StrictSyntax},
	{"missing colon", `{"a" 1}`, StrictSyntax},
	{"missing close", `{"a":[1,2}`, StrictSyntax},
	{"bom", "\xef\xbb\xbf{}", StrictSyntax},

	{"duplicate key", `{"model":"a","model":"b"}`, StrictDuplicateKey},
	{"duplicate nested", `{"messages":[{"role":"user","role":"system"}]}`, StrictDuplicateKey},
	{"duplicate via escape", `{"model":"a","\u006dodel":"b"}`, StrictDuplicateKey},
	{"duplicate in big object", `{` + manyKeys(40, true) + `}`, StrictDuplicateKey},
	{"case variant of a wire field", `{"messages":[],"Messages":[]}`, StrictDuplicateKey},
	{"kelvin sign variant", `{"max_tokens":1,"max_to\u212aens":2}`, StrictDuplicateKey},

	{"invalid utf8", "{\"a\":\"\xff\"}", StrictUTF8},
	{"overlong utf8", "{\"a\":\"\xc0\xaf\"}", StrictUTF8},
	{"utf8 surrogate bytes", "{\"a\":\"\xed\xa0\x80\"}", StrictUTF8},
	{"lone high surrogate", `{"a":"\ud800"}`, StrictUTF8},
	{"lone low surrogate", `{"a":"\udc00x"}`, StrictUTF8},
	{"high then non-low", `{"a":"\ud800\u0041"}`, StrictUTF8},
	{"invalid utf8 in key", "{\"\xff\":1}", StrictUTF8},

	{"too deep", strings.Repeat("[", 9) + strings.Repeat("]", 9), StrictDepth},
	{"too deep objects", strings.Repeat(`{"a":`, 9) + "1" + strings.Repeat("}", 9), StrictDepth},
	{"too many messages", `{"messages":[{},{},{},{}]}`, StrictMessages},
	{"too many input items", `{"input":["a","b","c","d"]}`, StrictMessages},
	{"too many parts", `{"messages":[{"content":[1,2,3]},{"content":[4,5]}]}`, StrictParts},
	{"too many responses parts", `{"input":[{"content":[1,2,3,4,5]}]}`, StrictParts},
}

func manyKeys(n int, dup bool) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		k := i
		if dup && i == n-1 {
			k = 3
		}
		b.WriteString(`"k`)
		b.WriteString(strings.Repeat("x", k))
		b.WriteString(`":1`)
	}
	return b.String()
}

func TestCheckStrict(t *testing.T) {
	for _, tc := range strictCases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckStrict([]byte(tc.body), strictLimits)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckStrict(%q) = %v, want nil", tc.body, err)
				}
				return
			}
			var se *StrictError
			if !errors.As(err, &se) {
				t.Fatalf("CheckStrict(%q) = %v, want a *StrictError of kind %s", tc.body, err, tc.want)
			}
			if se.Kind != tc.want {
				t.Errorf("CheckStrict(%q) kind = %s (%v), want %s", tc.body, se.Kind, err, tc.want)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("CheckStrict(%q) = %v, want it to wrap ErrMalformed", tc.body, err)
			}
		})
	}
}

func TestCheckStrictErrorMessage(t *testing.T) {
	err := CheckStrict([]byte(`{"model":"a","model":"b"}`), StrictLimits{})
	want := `malformed request body: duplicate key "model" at byte 13`
	if err == nil || err.Error() != want {
		t.Errorf("CheckStrict error = %v, want %q", err, want)
	}
}

func TestCheckStrictDefaultDepth(t *testing.T) {
	deep := strings.Repeat("[", DefaultMaxDepth+1) + strings.Repeat("]", DefaultMaxDepth+1)
	var se *StrictError
	if err := CheckStrict([]byte(deep), StrictLimits{}); !errors.As(err, &se) || se.Kind != StrictDepth {
		t.Errorf("CheckStrict(%d nested arrays) = %v, want %s", DefaultMaxDepth+1, err, StrictDepth)
	}
}

func TestCheckStrictAllocs(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}],"temperature":0.2}`)
	if err := CheckStrict(body, StrictLimits{}); err != nil {
		t.Fatal(err)
	}
	// A reused checker, as the pool hands out (the race detector makes
	// sync.Pool drop items at random, so the pool itself is not measured).
	c := new(checker)
	if n := testing.AllocsPerRun(100, func() { c.reset(body, StrictLimits{MaxDepth: 64}); _ = c.check() }); n > 0 {
		t.Errorf("CheckStrict allocs = %v, want 0", n)
	}
}

func BenchmarkCheckStrict(b *testing.B) {
	body := []byte(`{"model":"meta-llama/Llama-3.1-8B-Instruct","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"` + strings.Repeat("How do I join two tables in SQL? ", 40) + `"}],"temperature":0.7,"max_tokens":256}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckStrict(body, StrictLimits{MaxDepth: 64, MaxMessages: 2048, MaxParts: 4096}); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzCheckStrict(f *testing.F) {
	for _, tc := range strictCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := CheckStrict(body, strictLimits)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("CheckStrict(%q) = %v, not wrapping ErrMalformed", body, err)
		}
		// Anything strict accepts, encoding/json accepts too.
		if err == nil && !json.Valid(body) {
			t.Fatalf("CheckStrict(%q) = nil, but json.Valid is false", body)
		}
		// Anything encoding/json refuses, strict refuses too.
		if !json.Valid(body) && err == nil {
			t.Fatalf("CheckStrict(%q) accepted invalid JSON", body)
		}
	})
}
