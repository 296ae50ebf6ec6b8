// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bulwarkai/bulwark/internal/llm"
)

// FuzzSSEChunking checks the streaming guard against the whole-text one:
// however the model's text is cut into events, and however the event
// stream is cut into reads, the client sees exactly the text that guarding
// the complete response produces. That text has every value the detectors
// find in the full text replaced, so no chunking leaks one. The stream
// releases text as soon as the detectors report it settled
// (entity.Pender), so this also checks that early release against the
// whole-text result.
func FuzzSSEChunking(f *testing.F) {
	f.Add("My card is "+card+" and my key "+ghTok+", mail "+email+".", uint64(1), uint8(7), uint8(0))
	f.Add("key:\n"+pemKey+"\nend", uint64(2), uint8(1), uint8(1))
	f.Add(strings.Repeat("plain text 12 ", 80)+email, uint64(3), uint8(200), uint8(2))
	f.Add("call +1 415 555 0100 or 10.1.2.3, IBAN DE89 3704 0044 0532 0130 00", uint64(4), uint8(3), uint8(0))
	f.Add("password = \"Xk9#mP2$vL\" and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", uint64(5), uint8(11), uint8(1))
	f.Add("ünïcödé "+card+" ☃ "+email, uint64(6), uint8(2), uint8(2))
	// Prose releases word by word (entity.Pender); values inside it must
	// still come out whole or not at all.
	f.Add(englishReply()[:700]+" token: AKIA"+"Z7Q2MXP4LR6TNB3K then "+pemKey[:120]+" and password = \"Xk9#mP2$vL\" done", uint64(7), uint8(5), uint8(0))
	f.Add("write to "+email+" or postgres://app:s3cr!tPw9@db:5432/x or call +1 (415) 555-0100 office", uint64(8), uint8(9), uint8(1))
	apis := []struct {
		api  llm.API
		path string
	}{{llm.APIChat, "/v1/chat/completions"}, {llm.APICompletions, "/v1/completions"}, {llm.APIResponses, "/v1/responses"}}
	f.Fuzz(func(t *testing.T, text string, seed uint64, read uint8, which uint8) {
		if !utf8.ValidString(text) || len(text) > 4096 {
			return
		}
		a := apis[int(which)%len(apis)]
		// The model's text cut at random rune boundaries.
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		var pieces []string
		for rest := text; rest != ""; {
			n := 1 + rng.IntN(12)
			i := 0
			for k := 0; k < n && i < len(rest); k++ {
				_, size := utf8.DecodeRuneInString(rest[i:])
				i += size
			}
			pieces = append(pieces, rest[:i])
			rest = rest[i:]
		}
		o, rc := newOutput(t, redactAll, a.api)
		want, blk := o.scanWhole(text)
		if blk != nil {
			t.Fatalf("redact guards blocked")
		}
		o2, rc2 := newOutput(t, redactAll, a.api)
		body := guardStream(t, o2, rc2, strings.Join(sseEvents(a.path, pieces), ""), 1+int(read))
		got := parseSSE(t, body)
		if !got.valid {
			t.Fatalf("guarded stream has unparsable events:\n%s", body)
		}
		if got.text != want {
			t.Errorf("streamed client text differs from whole-text guarding\n got %q\nwant %q\npieces %q", got.text, want, pieces)
		}
		_ = rc
	})
}

// FuzzWalk checks that the JSON walker never panics and agrees with
// encoding/json on what is well-formed enough to rewrite.
func FuzzWalk(f *testing.F) {
	f.Add(`{"choices":[{"index":0,"delta":{"content":"hi \u00e9\n"},"logprobs":{"content":[{"token":"hi"}]}}]}`)
	f.Add(`{"a":[1,2,{"b":"c\"d"}],"e":null,"f":true}`)
	f.Add(`[{"x":"`)
	f.Fuzz(func(t *testing.T, doc string) {
		var path []elem
		_, _ = walk([]byte(doc), path, func(path []elem, v scalar) {
			if v.start < 0 || v.end > len(doc) || v.start > v.end {
				t.Fatalf("span [%d,%d) outside document of %d bytes", v.start, v.end, len(doc))
			}
			if v.str && !v.cut {
				_, _ = decodeString([]byte(doc[v.start:v.end]))
			}
		}, isLogprobs)
	})
}
