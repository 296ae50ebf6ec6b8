// SPDX-License-Identifier: Apache-2.0

package llm

import "testing"

// TestParseLexErrors pins the messages and offsets Parse reports for bad
// escapes and numbers, which come from its own checks around the shared
// jsonlex primitives; the client sees them in the 400 body.
func TestParseLexErrors(t *testing.T) {
	for _, tt := range []struct{ name, body, want string }{
		{"short unicode escape", `{"model":"m\u12"}`, "at byte 13: invalid \\u escape"},
		{"unknown escape", `{"model":"m\x"}`, "at byte 13: invalid escape"},
		{"backslash at end", `{"model":"m\`, "at byte 11: unterminated string"},
		{"bad escape after a lone surrogate", `{"model":"a\ud800\u12zz"}`, "at byte 19: invalid \\u escape"},
		{"minus alone", `{"model":"m","max_tokens":-}`, "at byte 26: invalid number"},
		{"no fraction digits", `{"model":"m","max_tokens":1.}`, "at byte 28: invalid number"},
		{"no exponent digits", `{"model":"m","max_tokens":1e+}`, "at byte 29: invalid number"},
		{"not an integer", `{"model":"m","max_tokens":1.5}`, "at byte 26: expected an integer"},
		{"bad literal", `{"model":"m","temperature":tru}`, "at byte 27: invalid literal"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(APIChat, []byte(tt.body))
			want := "malformed request body: invalid JSON " + tt.want
			if err == nil || err.Error() != want {
				t.Errorf("Parse(%s) = %v, want %s", tt.body, err, want)
			}
		})
	}
}

// TestParseSurrogates: Parse decodes \u escapes as encoding/json does, a
// surrogate without its pair becoming U+FFFD (CheckStrict refuses such a
// body before Parse sees it; the decoding still has to match).
func TestParseSurrogates(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"user","content":"a\ud800b\ude00\ud83d\ude00\u00e9\n"}]}`
	r, err := Parse(APIChat, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\uFFFDb\uFFFD😀é\n"; len(r.Texts) != 1 || r.Texts[0].Value != want {
		t.Errorf("Parse(%s).Texts = %q, want one text %q", body, r.Texts, want)
	}
}
