// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is a minimal OTLP/HTTP trace receiver.
type collector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func (c *collector) find(name string) *tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.spans {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func TestTracingGenAIAttributes(t *testing.T) {
	up, s := startDemoUpstream(t)
	col := &collector{}
	otlp := httptest.NewServer(col)
	defer otlp.Close()
	g := startGateway(t, baseConfig(s.URL, "telemetry:\n  tracing:\n    endpoint: "+otlp.URL+"\n"))

	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	res, body := do(t, "POST", g.URL+"/v1/chat/completions", aliceKey, chatBody, "Traceparent", parent)
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	// The upstream is called within the gateway's span of the same trace.
	if tp := up.LastHeader().Get("Traceparent"); !strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || tp == parent {
		t.Errorf("upstream traceparent = %q, want the caller's trace with the gateway's span", tp)
	}
	g.Stop(t) // flushes the batch exporter
	span := col.find("chat big-model")
	if span == nil {
		t.Fatalf("no span named %q received", "chat big-model")
	}
	attrs := map[string]string{}
	for _, kv := range span.Attributes {
		v := kv.Value.GetStringValue()
		if v == "" {
			v = strings.TrimSpace(strings.ReplaceAll(kv.Value.String(), "int_value:", ""))
		}
		attrs[kv.Key] = v
	}
	for k, want := range map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.request.model": "big-model",
		"gen_ai.usage.input_tokens": "2", "gen_ai.usage.output_tokens": "4", "bulwark.identity": "alice",
	} {
		if attrs[k] != want {
			t.Errorf("span attribute %s = %q, want %q (all: %v)", k, attrs[k], want, attrs)
		}
	}
	if got := string(span.TraceId); len(got) != 16 || span.TraceId[0] != 0x4b {
		t.Errorf("span does not continue the caller's trace: trace id %x", span.TraceId)
	}
}
