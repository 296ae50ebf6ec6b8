// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"io"
	"strings"
	"testing"

	"github.com/bulwarkai/bulwark/internal/llm"
)

// englishReply is an ordinary assistant reply of about 3 KB, without
// digits, e-mail addresses or anything else a detector would report.
func englishReply() string {
	const para = "Thanks for the question. The short answer is that a reverse proxy sits in front of " +
		"your application servers and forwards each request to one of them, while a forward proxy " +
		"sits in front of clients and forwards their requests out to the wider internet. In practice " +
		"you would put the gateway close to the model servers, keep the configuration in version " +
		"control, and roll out changes gradually so that a mistake only affects a small share of traffic. "
	var b strings.Builder
	for b.Len() < 3072 {
		b.WriteString(para)
	}
	return b.String()
}

// wordPieces cuts text the way models stream it: one word per delta, with
// its leading space, so every delta but the first ends inside a word.
func wordPieces(text string) []string {
	var pieces []string
	for rest := text; rest != ""; {
		i := strings.IndexByte(rest[1:], ' ')
		if i < 0 {
			pieces = append(pieces, rest)
			break
		}
		pieces = append(pieces, rest[:i+1])
		rest = rest[i+1:]
	}
	return pieces
}

// TestStreamReleasesWordByWord streams a 3 KB reply word by word through
// the pii and secrets output guards: text must reach the client while the
// model is still writing, held back by about one word, not by the
// detectors' 512 B and 12 KB windows.
func TestStreamReleasesWordByWord(t *testing.T) {
	text := englishReply()
	pieces := wordPieces(text)
	longest := 0
	for _, p := range pieces {
		longest = max(longest, len(p))
	}

	t.Run("textScan", func(t *testing.T) {
		o, _ := newOutput(t, redactAll, llm.APIChat)
		sc := o.newScan()
		in, out, firstAt, maxHeld := 0, 0, -1, 0
		for _, p := range pieces {
			in += len(p)
			got, blk := sc.write(p, false)
			if blk != nil {
				t.Fatalf("blocked on clean text: %+v", blk)
			}
			if got != "" && firstAt < 0 {
				firstAt = in
			}
			out += len(got)
			maxHeld = max(maxHeld, in-out)
		}
		if firstAt < 0 || firstAt >= len(text) {
			t.Fatalf("first text released after %d of %d bytes, want before the end", firstAt, len(text))
		}
		t.Logf("first text released after %d bytes in; at most %d bytes held (longest delta %d)", firstAt, maxHeld, longest)
		if firstAt > 2*longest {
			t.Errorf("first text released after %d bytes, want at most two words (%d)", firstAt, 2*longest)
		}
		if maxHeld > longest {
			t.Errorf("held up to %d bytes, want at most one word (%d)", maxHeld, longest)
		}
	})

	t.Run("sse", func(t *testing.T) {
		o, rc := newOutput(t, redactAll, llm.APIChat)
		body := strings.Join(sseEvents("/v1/chat/completions", pieces), "")
		src := &eventReader{s: body}
		g := newSSEGuard(io.NopCloser(src), rc, o)
		buf := make([]byte, 32<<10)
		var got strings.Builder
		for got.Len() == 0 || !strings.Contains(got.String(), `"content":"`) {
			n, err := g.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				t.Fatalf("stream ended (%v) before any text was released", err)
			}
		}
		left := strings.Count(src.s, "\n\n")
		if left < len(pieces)/2 {
			t.Errorf("first text released with %d of %d events left upstream, want it early", left, len(pieces)+2)
		}
		rest, err := io.ReadAll(g)
		if err != nil {
			t.Fatal(err)
		}
		if s := parseSSE(t, got.String()+string(rest)); s.text != text {
			t.Errorf("client text differs from the model's clean text")
		}
	})
}

// TestStreamSplitValuesNeverLeak splits values mid-token at every byte and
// checks that the client sees exactly the whole-text result, with no part
// of the value.
func TestStreamSplitValuesNeverLeak(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	aws := "AKIA" + "Z7Q2MXP4LR6TNB3K"
	tests := []struct{ name, value, typ string }{
		{"pem", pemKey, "[PRIVATE_KEY_1]"},
		{"jwt", jwt, "[JWT_1]"},
		{"aws", aws, "[AWS_ACCESS_KEY_1]"},
		{"card", card, "[CREDIT_CARD_1]"},
		{"email", email, "[EMAIL_1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "Here is what you asked for: " + tt.value + " and that is all."
			o, _ := newOutput(t, redactAll, llm.APIChat)
			want, _ := o.scanWhole(text)
			if !strings.Contains(want, tt.typ) {
				t.Fatalf("whole-text guarding = %q, want %s in it", want, tt.typ)
			}
			at := strings.Index(text, tt.value)
			chunkings := map[string][]string{"words": wordPieces(text)}
			var bytes []string
			for i := range len(text) {
				bytes = append(bytes, text[i:i+1])
			}
			chunkings["bytes"] = bytes
			for k := at + 1; k < at+len(tt.value); k++ {
				chunkings["split"+itoa(k-at)] = []string{text[:k], text[k:]}
			}
			for name, pieces := range chunkings {
				o, rc := newOutput(t, redactAll, llm.APIChat)
				body := guardStream(t, o, rc, strings.Join(sseEvents("/v1/chat/completions", pieces), ""), 4096)
				got := parseSSE(t, body)
				if got.text != want {
					t.Fatalf("%s: client text = %q, want %q", name, got.text, want)
				}
				if leaked := leak(got.text, tt.value); leaked != "" {
					t.Fatalf("%s: client text leaks %q of the value", name, leaked)
				}
			}
		})
	}
}

// leak returns a piece of value of at least 8 bytes (or all of a shorter
// one) that appears in text, or "".
func leak(text, value string) string {
	n := min(8, len(value))
	for i := 0; i+n <= len(value); i++ {
		if strings.Contains(text, value[i:i+n]) {
			return value[i : i+n]
		}
	}
	return ""
}
