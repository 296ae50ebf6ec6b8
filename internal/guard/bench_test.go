// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// benchBody is the 1.5 KB chat request the gateway benchmarks use.
func benchBody(b *testing.B) []byte {
	b.Helper()
	body, err := os.ReadFile("../../bench/chat-1500.json")
	if err != nil {
		b.Fatal(err)
	}
	return body
}

var inputSets = []struct{ name, guards string }{
	{"promptInjection", "input:\n  - detector: promptInjection\n    action: block"},
	{"pii", "input:\n  - detector: pii\n    action: redact"},
	{"secrets", "input:\n  - detector: secrets\n    action: block"},
	{"code", "input:\n  - detector: code\n    action: detect"},
	{"all", `input:
  - detector: promptInjection
    action: block
  - detector: pii
    action: redact
  - detector: secrets
    action: block
  - detector: code
    action: detect
  - detector: patterns
    action: block
    words: [nightfall, bluebird]`},
}

// BenchmarkInputGuards is the guard cost per request on the 1.5 KB body:
// OnRequest with the body already parsed, as the pipeline calls it.
func BenchmarkInputGuards(b *testing.B) {
	body := benchBody(b)
	req, err := llm.Parse(llm.APIChat, body)
	if err != nil {
		b.Fatal(err)
	}
	for _, set := range inputSets {
		b.Run(set.name, func(b *testing.B) {
			s, err := New(parseGuards(b, set.guards), nil, prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			rc := &pipeline.RequestContext{API: llm.APIChat, Body: body, LLM: req}
			ctx := context.Background()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rc.Guard, rc.Edits, rc.Detected = nil, llm.Edits{}, rc.Detected[:0]
				if d, err := s.OnRequest(ctx, rc); d != nil || err != nil {
					b.Fatalf("OnRequest = %+v, %v", d, err)
				}
			}
		})
	}
}

// benchStream renders the bench body's prompt text as a chat stream of
// 4-byte deltas, about one token each.
func benchStream(b *testing.B) (string, int) {
	req, err := llm.Parse(llm.APIChat, benchBody(b))
	if err != nil {
		b.Fatal(err)
	}
	text := req.PromptText()
	var pieces []string
	for i := 0; i < len(text); i += 4 {
		pieces = append(pieces, text[i:min(len(text), i+4)])
	}
	return strings.Join(sseEvents("/v1/chat/completions", pieces), ""), len(pieces)
}

var outputSets = []struct{ name, guards string }{
	{"pii", "output:\n  - detector: pii\n    action: redact"},
	{"secrets", "output:\n  - detector: secrets\n    action: redact"},
	{"code", "output:\n  - detector: code\n    action: block"},
	{"all", "output:\n  - detector: pii\n    action: redact\n  - detector: secrets\n    action: redact\n  - detector: code\n    action: block"},
}

// BenchmarkOutputStream guards a streamed reply of the bench text (1.5 KB
// in 4-byte chunks). It reports the cost per chunk, how many bytes of
// text the client had to wait for before the first byte was released
// (held-B; the added time to first token is that many bytes of generation)
// and the gateway time until that first release (ttft-ns, upstream
// instantaneous).
func BenchmarkOutputStream(b *testing.B) {
	stream, chunks := benchStream(b)
	b.Run("none", func(b *testing.B) {
		b.SetBytes(int64(len(stream)))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = io.Copy(io.Discard, &eventReader{s: stream})
		}
	})
	for _, set := range outputSets {
		b.Run(set.name, func(b *testing.B) {
			s, err := New(parseGuards(b, set.guards), nil, prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			newGuard := func() *sseGuard {
				rc := &pipeline.RequestContext{API: llm.APIChat}
				st := s.state(rc)
				o := &outputSide{s: s, st: st, guards: s.output, redactor: st.redactorFor(), spent: make([]time.Duration, len(s.output))}
				return newSSEGuard(io.NopCloser(&eventReader{s: stream}), rc, o)
			}
			held, ttft := firstRelease(b, newGuard())
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := io.Copy(io.Discard, newGuard()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(chunks), "ns/chunk")
			b.ReportMetric(float64(held), "held-B")
			b.ReportMetric(float64(ttft.Nanoseconds()), "ttft-ns")
		})
	}
}

// eventReader returns one event per Read, as an upstream flushing each
// token would.
type eventReader struct{ s string }

func (r *eventReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	i := strings.Index(r.s, "\n\n") + 2
	if i < 2 {
		i = len(r.s)
	}
	n := copy(p, r.s[:i])
	r.s = r.s[n:]
	return n, nil
}

// firstRelease drains g and returns how much model text had gone in when
// the first text came out, and how long that took.
func firstRelease(b *testing.B, g *sseGuard) (int, time.Duration) {
	start := time.Now()
	var first time.Duration
	in, held := 0, -1
	buf := make([]byte, 32<<10)
	for {
		n, err := g.Read(buf)
		if held < 0 && n > 0 {
			for _, line := range strings.Split(string(buf[:n]), "\n") {
				var c struct {
					Choices []struct{ Delta struct{ Content string } }
				}
				data, ok := strings.CutPrefix(line, "data: ")
				if !ok || json.Unmarshal([]byte(data), &c) != nil || len(c.Choices) == 0 {
					continue
				}
				if c.Choices[0].Delta.Content != "" {
					held, first = in, time.Since(start)
					break
				}
				in += 4
			}
		}
		if err == io.EOF {
			return held, first
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
