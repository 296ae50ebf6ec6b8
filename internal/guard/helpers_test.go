// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/pipeline"
	"github.com/bulwarkai/bulwark/internal/proxy"
	"github.com/bulwarkai/bulwark/internal/telemetry"
)

// parseGuards decodes a guards section through the real config loader,
// so tests see the defaults and validation an operator gets.
func parseGuards(t testing.TB, guardsYAML string) *config.Guards {
	t.Helper()
	var b strings.Builder
	b.WriteString("upstreams: [{name: u, endpoints: ['http://127.0.0.1:1']}]\nroutes:\n  - name: r\n    pathPrefix: /v1/\n    upstream: u\n    anonymous: true\n    guards:\n")
	for _, line := range strings.Split(strings.TrimSpace(guardsYAML), "\n") {
		b.WriteString("      " + line + "\n")
	}
	cfg, err := config.Parse([]byte(b.String()))
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, b.String())
	}
	return cfg.Routes[0].Guards
}

// outcome is what the observer saw of one finished request.
type outcome struct {
	status   int
	decision *pipeline.Decision
	detected []*pipeline.Decision
	audit    string // the "guards" audit section as JSON
}

type recorder struct{ ch chan outcome }

func (r *recorder) Observe(rc *pipeline.RequestContext) {
	o := outcome{status: rc.Status, decision: rc.Decision, detected: append([]*pipeline.Decision(nil), rc.Detected...)}
	for _, f := range rc.AuditFields() {
		if f.Key == StageName {
			b, _ := json.Marshal(f.Value)
			o.audit = string(b)
		}
	}
	r.ch <- o
}

// next returns the outcome of the next finished request.
func (r *recorder) next(t testing.TB) outcome {
	t.Helper()
	select {
	case o := <-r.ch:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no request finished within 10s")
		return outcome{}
	}
}

type gateway struct {
	url string
	rec *recorder
}

// startGateway serves one route with the guards in front of upstream,
// through the real pipeline handler and reverse proxy.
func startGateway(t testing.TB, g *config.Guards, upstream http.Handler, passthrough bool) *gateway {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	stage, err := New(g, logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	fw, err := proxy.New(&config.Upstream{Name: "u", Endpoints: []string{up.URL}, ConnectTimeout: config.Duration(time.Second),
		ResponseHeaderTimeout: config.Duration(5 * time.Second), PassiveCooldown: config.Duration(time.Second)}, telemetry.NewMetrics(), logger)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	rec := &recorder{ch: make(chan outcome, 16)}
	var stages []pipeline.Stage
	if stage != nil {
		stages = append(stages, stage)
		t.Cleanup(func() { _ = stage.Close() })
	}
	p := pipeline.New(pipeline.Options{
		Routes: []*pipeline.Route{{Name: "r", Prefix: "/v1/", MaxRequestBytes: 1 << 20, Passthrough: passthrough, StreamUsage: true,
			Stages: stages, Upstream: fw}},
		Observers: []pipeline.Observer{rec},
		Logger:    logger,
	})
	srv := httptest.NewServer(pipeline.NewHandler(p, logger))
	t.Cleanup(func() { srv.Close(); _ = fw.Close() })
	return &gateway{url: srv.URL, rec: rec}
}

// post sends body to path with extra headers and returns the status and
// the whole response body.
func (g *gateway) post(t testing.TB, path, body string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, g.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// sseText is what a client reassembles from a stream: the text deltas in
// order (chat delta.content, completions text, Responses
// output_text.delta), plus any error event and whether [DONE] came.
type sseText struct {
	text  string
	err   string // error code of an error event
	done  bool
	valid bool // every data payload parsed
}

func parseSSE(t testing.TB, body string) sseText {
	t.Helper()
	out := sseText{valid: true}
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			out.done = true
			continue
		}
		var ev struct {
			Type    string `json:"type"`
			Delta   string `json:"delta"`
			Code    string `json:"code"`
			Choices []struct {
				Text  string `json:"text"`
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Error *struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			out.valid = false
			continue
		}
		switch {
		case ev.Error != nil:
			out.err = ev.Error.Code
		case ev.Type == "error":
			out.err = ev.Code
		case ev.Type == "response.output_text.delta":
			b.WriteString(ev.Delta)
		}
		for _, c := range ev.Choices {
			b.WriteString(c.Delta.Content)
			b.WriteString(c.Text)
		}
	}
	out.text = b.String()
	return out
}

// chunkedUpstream streams the given text pieces as SSE events of the API
// at path, splitting values wherever the test chose.
func chunkedUpstream(pieces []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		flush := http.NewResponseController(w)
		var buf bytes.Buffer
		for _, ev := range sseEvents(r.URL.Path, pieces) {
			buf.Reset()
			buf.WriteString(ev)
			_, _ = w.Write(buf.Bytes())
			_ = flush.Flush()
		}
	})
}

// sseEvents renders pieces as the event stream of the API at path.
func sseEvents(path string, pieces []string) []string {
	var evs []string
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	switch {
	case strings.HasSuffix(path, "/responses"):
		evs = append(evs, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"output\":[]}}\n\n")
		for i, p := range pieces {
			evs = append(evs, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":"+q(p)+",\"sequence_number\":"+itoa(i+1)+"}\n\n")
		}
		full := strings.Join(pieces, "")
		evs = append(evs, "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"text\":"+q(full)+"}\n\n")
		evs = append(evs, "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"id\":\"msg_1\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":"+q(full)+"}]}],\"usage\":{\"input_tokens\":3,\"output_tokens\":5}}}\n\n")
	case strings.HasSuffix(path, "/chat/completions"):
		for _, p := range pieces {
			evs = append(evs, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"+q(p)+"},\"finish_reason\":null}]}\n\n")
		}
		evs = append(evs, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", "data: [DONE]\n\n")
	default:
		for _, p := range pieces {
			evs = append(evs, "data: {\"id\":\"c1\",\"object\":\"text_completion\",\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":"+q(p)+",\"finish_reason\":null}]}\n\n")
		}
		evs = append(evs, "data: {\"id\":\"c1\",\"object\":\"text_completion\",\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":\"stop\"}]}\n\n", "data: [DONE]\n\n")
	}
	return evs
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
