// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// benchPrompt makes the chat request about 1.5 KB, the size the issue
// measured nginx+ModSecurity and Coraza with.
var benchPrompt = strings.Repeat("Summarise the following meeting notes in three bullet points and list any action items with their owners. ", 11)

// benchHeaders are what the OpenAI Python SDK sends.
var benchHeaders = [][2]string{
	{"Content-Type", "application/json"},
	{"Accept", "application/json"},
	{"User-Agent", "OpenAI/Python 1.40.0"},
	{"Authorization", "Bearer sk-test-0123456789abcdef0123456789abcdef"},
	{"X-Stainless-Lang", "python"},
	{"X-Stainless-Package-Version", "1.40.0"},
	{"X-Stainless-Runtime", "CPython"},
	{"Accept-Encoding", "gzip, deflate"},
}

func benchRC(body []byte, api llm.API) *pipeline.RequestContext {
	req := httptest.NewRequest("POST", "https://gateway.example.com"+chatPath, nil)
	for _, h := range benchHeaders {
		req.Header.Set(h[0], h[1])
	}
	req.Header.Set("Content-Length", "1500")
	rc := &pipeline.RequestContext{ID: "bench", Request: req, Body: body, API: api}
	if api != llm.APIUnknown {
		rc.LLM, _ = llm.Parse(api, body)
	}
	return rc
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStage measures OnRequest on a 1.5 KB chat request in block mode
// at PL1. cpu-us/op is process CPU time (GC included) per request.
//
//	go test -run '^$' -bench BenchmarkStage -benchtime 2000x ./internal/waf/
//
// "ai-aware" repeats one request, so after the first it is answered by
// the verdict cache (as every request is whose inspected parts were seen
// before: another prompt, length or trace id does not matter).
// "ai-aware/distinct" gives every request a new "user" value, so each one
// misses the cache and runs CRS: the cost of traffic CRS has not seen.
func BenchmarkStage(b *testing.B) {
	body := chatBody(benchPrompt, "")
	// The same body with its prompt strings blanked, for the variant that
	// hands Coraza's JSON processor a body without prompts.
	blanked := strings.Replace(strings.Replace(body, benchPrompt, "", 1), "You are a helpful assistant.", "", 1)
	off := config.WAFVerdictCache{Disabled: true}
	for _, tc := range []struct {
		name     string
		cfg      config.WAF
		body     string
		api      llm.API
		distinct bool
	}{
		{"ai-aware", config.WAF{}, body, llm.APIChat, false},
		// One entry: consecutive distinct requests always miss.
		{"ai-aware/distinct", config.WAF{VerdictCache: config.WAFVerdictCache{MaxEntries: 1}}, body, llm.APIChat, true},
		{"ai-aware/cache-off", config.WAF{VerdictCache: off}, body, llm.APIChat, false},
		{"inspectPrompts", config.WAF{InspectPrompts: true}, body, llm.APIChat, false},
		{"inspectPrompts/cache-off", config.WAF{InspectPrompts: true, VerdictCache: off}, body, llm.APIChat, false},
		{"coraza-json-processor", config.WAF{}, body, llm.APIUnknown, false},
		{"coraza-json-processor-blanked", config.WAF{}, blanked, llm.APIUnknown, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := mustStage(b, tc.cfg, nil)
			rc := benchRC([]byte(tc.body), tc.api)
			if d, err := s.OnRequest(b.Context(), rc); d != nil || err != nil {
				b.Fatalf("benign request refused: %+v %v", d, err)
			}
			// Distinct bodies are made up front: building them is not the
			// stage's cost.
			var rcs []*pipeline.RequestContext
			if tc.distinct {
				rcs = make([]*pipeline.RequestContext, 4096)
				for i := range rcs {
					rcs[i] = benchRC([]byte(strings.Replace(tc.body, `"temperature"`, fmt.Sprintf(`"user":"u%d","temperature"`, i), 1)), tc.api)
				}
			}
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			start := cpuTime()
			i := 0
			for b.Loop() {
				r := rc
				if rcs != nil {
					r = rcs[i%len(rcs)]
					i++
				}
				if d, err := s.OnRequest(b.Context(), r); d != nil || err != nil {
					b.Fatal(d, err)
				}
			}
			b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-us/op")
		})
	}
}

// BenchmarkWalk measures the JSON walk that replaces Coraza's JSON body
// processor.
func BenchmarkWalk(b *testing.B) {
	body := []byte(chatBody(benchPrompt, ""))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := walkJSON(body, llm.APIChat, false, discardArgs{}); err != nil {
			b.Fatal(err)
		}
	}
}

type discardArgs struct{}

func (discardArgs) AddPostRequestArgument(string, string) {}
