// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
	"github.com/bulwarkai/bulwark/internal/guard/redact"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// Test values: a Luhn-valid card, an address, a GitHub token and a PEM key.
const (
	card   = "4111 1111 1111 1111"
	email  = "bob.smith@example.com"
	ghTok  = "ghp_R8fJ2kLm9QxT4vW7yZ1aB3cD5eF6gH0iJkLp"
	pemKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq7BFUpkGp3+LQmlQ9Yt2h8xk5E0fz1wR3DkP4n9vJc0QkXb2\nT6yHsVb1Z9m3s0Jx8Pq4Wl2Rk7Nf5Ye1Gh3Lu6Ao9Cd2Ef4Ij7Km8Nn0Pp1Qq3Rr5\n-----END RSA PRIVATE KEY-----"
)

// newOutput compiles guards and returns the output side of one request.
func newOutput(t testing.TB, guardsYAML string, api llm.API) (*outputSide, *pipeline.RequestContext) {
	t.Helper()
	s, err := New(parseGuards(t, guardsYAML), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	rc := &pipeline.RequestContext{API: api}
	st := s.state(rc)
	return &outputSide{s: s, st: st, guards: s.output, redactor: st.redactorFor(), spent: make([]time.Duration, len(s.output))}, rc
}

const redactAll = `
output:
  - detector: pii
    action: redact
  - detector: secrets
    action: redact
`

func TestTextScanSplitValues(t *testing.T) {
	tests := []struct {
		name   string
		guards string
		text   string
		want   string
	}{
		{name: "card", guards: redactAll, text: "pay with " + card + " today", want: "pay with [CREDIT_CARD_1] today"},
		{name: "email twice", guards: redactAll, text: email + " and again " + email + ".", want: "[EMAIL_1] and again [EMAIL_1]."},
		{name: "token", guards: redactAll, text: "export GH=" + ghTok + "\nok", want: "export GH=[GITHUB_TOKEN_1]\nok"},
		{name: "pem", guards: redactAll, text: "key:\n" + pemKey + "\nend", want: "key:\n[PRIVATE_KEY_1]\nend"},
		{name: "clean", guards: redactAll, text: "Nothing to see here, 42 pallets.", want: "Nothing to see here, 42 pallets."},
		{name: "word list", guards: "output:\n  - detector: patterns\n    action: redact\n    words: [nightfall]", text: "Operation NightFall starts", want: "Operation [WORD_1] starts"},
		{name: "regex", guards: "output:\n  - detector: patterns\n    action: redact\n    patterns: [{name: TICKET, regex: 'PRJ-[0-9]{4}'}]", text: "see PRJ-1234.", want: "see [TICKET_1]."},
	}
	for _, tt := range tests {
		for _, size := range []int{1, 3, 7, 1 << 20} {
			t.Run(tt.name+"/chunk"+itoa(size), func(t *testing.T) {
				o, _ := newOutput(t, tt.guards, llm.APIChat)
				sc := o.newScan()
				var got strings.Builder
				for i := 0; i < len(tt.text); i += size {
					out, blk := sc.write(tt.text[i:min(len(tt.text), i+size)], false)
					if blk != nil {
						t.Fatalf("blocked by %s", blk.guard.name)
					}
					got.WriteString(out)
				}
				out, _ := sc.write("", true)
				got.WriteString(out)
				if got.String() != tt.want {
					t.Errorf("streamed %q = %q, want %q", tt.text, got.String(), tt.want)
				}
			})
		}
	}
}

func TestTextScanBlockReleasesOnlyWhatPrecedes(t *testing.T) {
	o, _ := newOutput(t, "output:\n  - detector: secrets\n    action: block", llm.APIChat)
	sc := o.newScan()
	text := strings.Repeat("plain words here. ", 1000) + "token " + ghTok + " tail"
	var got strings.Builder
	var blk *blocked
	for i := 0; i < len(text) && blk == nil; i += 5 {
		var out string
		out, blk = sc.write(text[i:min(len(text), i+5)], false)
		got.WriteString(out)
	}
	if blk == nil {
		out, b := sc.write("", true)
		got.WriteString(out)
		blk = b
	}
	if blk == nil || blk.typ != "GITHUB_TOKEN" {
		t.Fatalf("blocked = %+v, want GITHUB_TOKEN", blk)
	}
	if strings.Contains(got.String(), "ghp_") {
		t.Errorf("released text contains the token prefix")
	}
	if !strings.HasPrefix(text, got.String()) {
		t.Errorf("released text is not a prefix of the original")
	}
}

// TestTextScanHoldBackBound checks that a stream never holds back more
// than holdBack bytes, and that detectors which report what is pending
// (entity.Pender) hold back nothing once the text ends between words.
func TestTextScanHoldBackBound(t *testing.T) {
	words := strings.Repeat("abcdefgh ", 400)
	run := strings.Repeat("abcdefgh", 450)
	tests := []struct {
		name    string
		guards  string
		text    string
		max     int // most ever held
		wantEnd int // held once the text is in
	}{
		{name: "pii words", guards: "output:\n  - detector: pii\n    action: redact", text: words, max: 512, wantEnd: 0},
		{name: "pii one long run", guards: "output:\n  - detector: pii\n    action: redact", text: run, max: 512, wantEnd: 512},
		{name: "secrets words", guards: "output:\n  - detector: secrets\n    action: redact", text: words, max: 12416, wantEnd: 0},
		{name: "code", guards: "output:\n  - detector: code\n    action: block", text: words, max: maxCodeLine + 16, wantEnd: maxCodeLine + 16},
		{name: "capped", guards: "unsafeStreamHoldBack: 64\noutput:\n  - detector: secrets\n    action: redact", text: run, max: 64, wantEnd: 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _ := newOutput(t, tt.guards, llm.APIChat)
			sc := o.newScan()
			held := 0
			for i := 0; i < len(tt.text); i++ {
				out, _ := sc.write(tt.text[i:i+1], false)
				held += 1 - len(out)
				if held > tt.max {
					t.Fatalf("held %d bytes after %d, want at most %d", held, i+1, tt.max)
				}
			}
			if held != tt.wantEnd {
				t.Errorf("held %d bytes at the end, want %d", held, tt.wantEnd)
			}
		})
	}
}

// guardStream runs body through an sseGuard, reading in reads of size n.
func guardStream(t testing.TB, o *outputSide, rc *pipeline.RequestContext, body string, n int) string {
	t.Helper()
	g := newSSEGuard(io.NopCloser(&slowReader{s: body, n: n}), rc, o)
	b, err := io.ReadAll(g)
	if err != nil {
		t.Fatalf("reading guarded stream: %v", err)
	}
	return string(b)
}

// slowReader returns at most n bytes per Read.
type slowReader struct {
	s string
	n int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.s)
	r.s = r.s[k:]
	return k, nil
}

func TestSSEGuard(t *testing.T) {
	pieces := []string{"My card is 4111 11", "11 1111 11", "11 and my key gh", "p_R8fJ2kLm9QxT4v", "W7yZ1aB3cD5eF6gH0iJkLp, mail bob.smith@exa", "mple.com."}
	want := "My card is [CREDIT_CARD_1] and my key [GITHUB_TOKEN_1], mail [EMAIL_1]."
	for _, api := range []struct {
		name string
		api  llm.API
		path string
	}{{"chat", llm.APIChat, "/v1/chat/completions"}, {"completions", llm.APICompletions, "/v1/completions"}, {"responses", llm.APIResponses, "/v1/responses"}} {
		for _, n := range []int{1, 17, 1 << 16} {
			t.Run(api.name+"/read"+itoa(n), func(t *testing.T) {
				o, rc := newOutput(t, redactAll, api.api)
				body := guardStream(t, o, rc, strings.Join(sseEvents(api.path, pieces), ""), n)
				got := parseSSE(t, body)
				if !got.valid {
					t.Fatalf("guarded stream has unparsable events:\n%s", body)
				}
				if got.text != want {
					t.Errorf("client text = %q, want %q", got.text, want)
				}
				for _, leak := range []string{"4111", "R8fJ", "bob.smith", "1111 11"} {
					if strings.Contains(body, leak) {
						t.Errorf("stream leaks %q:\n%s", leak, body)
					}
				}
			})
		}
	}
}

func TestSSEGuardBlock(t *testing.T) {
	for _, api := range []struct {
		name string
		api  llm.API
		path string
	}{{"chat", llm.APIChat, "/v1/chat/completions"}, {"responses", llm.APIResponses, "/v1/responses"}} {
		t.Run(api.name, func(t *testing.T) {
			o, rc := newOutput(t, "output:\n  - detector: secrets\n    action: block", api.api)
			body := guardStream(t, o, rc, strings.Join(sseEvents(api.path, []string{"here: gh", "p_R8fJ2kLm9QxT4vW7yZ1aB3cD5eF6gH0iJkLp done"}), ""), 64)
			got := parseSSE(t, body)
			if got.err != CodePolicy || !got.done || !got.valid {
				t.Errorf("stream end = %+v, want a %s error event then [DONE]:\n%s", got, CodePolicy, body)
			}
			if strings.Contains(body, "R8fJ") || strings.Contains(body, "gh\"") {
				t.Errorf("blocked stream leaks part of the token:\n%s", body)
			}
			if rc.Decision == nil || rc.Decision.Rule != "secrets" {
				t.Errorf("rc.Decision = %+v, want rule secrets", rc.Decision)
			}
		})
	}
}

func TestSSEGuardMaskRestore(t *testing.T) {
	o, rc := newOutput(t, redactAll, llm.APIChat)
	o.mask = redact.New(redact.Mask)
	o.mask.Redact("mail bob.smith@example.com", []entity.Finding{{Start: 5, End: 26, Type: "EMAIL"}})
	pieces := []string{"I will write to [EM", "AIL_1] and to ", "al@example.org", " now"}
	body := guardStream(t, o, rc, strings.Join(sseEvents("/v1/chat/completions", pieces), ""), 7)
	got := parseSSE(t, body)
	// The masked address comes back; the model's own address is redacted
	// by the output guard and its placeholder is never restored.
	if want := "I will write to bob.smith@example.com and to [EMAIL_1] now"; got.text != want {
		t.Errorf("client text = %q, want %q", got.text, want)
	}
}
