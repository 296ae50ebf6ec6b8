// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"net/http/httptest"
	"testing"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// BenchmarkStageBreakdown shows where the AI-aware cost sits: a request
// with no headers and no body, then headers, then the chat body.
func BenchmarkStageBreakdown(b *testing.B) {
	// Cache off: the point is what Coraza costs.
	s := mustStage(b, config.WAF{VerdictCache: config.WAFVerdictCache{Disabled: true}}, nil)
	body := []byte(chatBody(benchPrompt, ""))
	bare := httptest.NewRequest("GET", "https://gateway.example.com/v1/models", nil)
	bare.Header = map[string][]string{}
	withHeaders := benchRC(nil, llm.APIUnknown).Request
	withHeaders.Method = "GET"
	withHeaders.Header.Del("Content-Length")
	withHeaders.Header.Del("Content-Type")
	for _, tc := range []struct {
		name string
		rc   *pipeline.RequestContext
	}{
		{"bare GET", &pipeline.RequestContext{Request: bare}},
		{"GET with SDK headers", &pipeline.RequestContext{Request: withHeaders}},
		{"chat POST", benchRC(body, llm.APIChat)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d, err := s.OnRequest(b.Context(), tc.rc); d != nil || err != nil {
					b.Fatal(d, err)
				}
			}
		})
	}
}
