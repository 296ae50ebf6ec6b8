// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// echoUpstream behaves like the parts of httpbin the CRS regression tests
// use: /anything echoes the body, /base64/X answers with X decoded,
// anything else says hello. It stands in for an LLM server.
func echoUpstream(t testing.TB) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		switch {
		case r.URL.Path == "/reflect":
			reflect(w, body)
		case r.URL.Path == "/anything":
			if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
				if s, err := url.QueryUnescape(string(body)); err == nil {
					body = []byte(s)
				}
			}
			_, _ = w.Write(body)
		case strings.HasPrefix(r.URL.Path, "/base64/"):
			dec, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.URL.Path, "/base64/"))
			_, _ = w.Write(dec)
		case strings.HasSuffix(r.URL.Path, "/chat/completions"):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}`)
		default:
			_, _ = io.WriteString(w, "Hello!")
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// echoForwarder proxies to the upstream with httputil.ReverseProxy,
// sending rc.Body and running the route's response stages, as the real
// proxy will.
type echoForwarder struct {
	target *url.URL
	// finish, when set, is told the request is over before the client
	// gets the answer, so that everything the WAF logs (CRS's phase 5
	// included) precedes the next request go-ftw sends.
	finish pipeline.Finisher
}

func (f *echoForwarder) Name() string { return "echo" }

func (f *echoForwarder) Forward(w http.ResponseWriter, r *http.Request, rc *pipeline.RequestContext) {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(f.target)
			pr.Out.Host = f.target.Host
			pr.Out.Body = io.NopCloser(bytes.NewReader(rc.Body))
			pr.Out.ContentLength = int64(len(rc.Body))
			pr.Out.TransferEncoding = nil
		},
		ModifyResponse: func(res *http.Response) error {
			rc.Status = res.StatusCode
			for _, s := range rc.Route.ResponseStages() {
				d, err := s.OnResponse(r.Context(), rc, res)
				if err != nil {
					return err
				}
				if d != nil {
					return &decisionError{d}
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			if de, ok := err.(*decisionError); ok { //nolint:errorlint // our own sentinel type, never wrapped
				pipeline.Deny(w, rc, de.d)
				return
			}
			pipeline.Deny(w, rc, &pipeline.Decision{Status: http.StatusBadGateway, Type: pipeline.TypeUpstream, Code: "upstream_error",
				Message: "upstream failed", Stage: "proxy", Rule: "upstream_error", Reason: err.Error()})
		},
	}
	if f.finish == nil {
		rp.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	rp.ServeHTTP(rec, r)
	f.finish.Finish(r.Context(), rc)
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

type decisionError struct{ d *pipeline.Decision }

func (e *decisionError) Error() string { return "response refused: " + e.d.Reason }

// fact is what the test observer keeps of a finished request.
type fact struct {
	Status   int
	Decision *pipeline.Decision
	Detected []pipeline.Decision
	Audit    *Audit
}

// factObserver records each request's outcome by request id.
type factObserver struct {
	mu    sync.Mutex
	facts map[string]fact
}

func (o *factObserver) Observe(rc *pipeline.RequestContext) {
	f := fact{Status: rc.Status}
	if rc.Decision != nil {
		d := *rc.Decision
		f.Decision = &d
	}
	for _, d := range rc.Detected {
		f.Detected = append(f.Detected, *d)
	}
	for _, af := range rc.AuditFields() {
		if a, ok := af.Value.(*Audit); ok && af.Key == StageName {
			c := *a
			c.Rules = append([]int(nil), a.Rules...)
			c.Checks = append([]string(nil), a.Checks...)
			f.Audit = &c
		}
	}
	o.mu.Lock()
	o.facts[rc.ID] = f
	o.mu.Unlock()
}

func (o *factObserver) get(t testing.TB, id string) fact {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	f, ok := o.facts[id]
	if !ok {
		t.Fatalf("no facts recorded for request %q", id)
	}
	return f
}

// gateway is an in-process Bulwark with one route running the WAF stage.
type gateway struct {
	URL      string
	stage    *Stage
	facts    *factObserver
	registry *prometheus.Registry
	logs     *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newGateway(t testing.TB, stage *Stage) *gateway {
	t.Helper()
	return newGatewayWith(t, stage, 1<<20, false)
}

func newGatewayWith(t testing.TB, stage *Stage, maxBytes int64, finishFirst bool) *gateway {
	t.Helper()
	up := echoUpstream(t)
	target, _ := url.Parse(up.URL)
	fwd := &echoForwarder{target: target}
	if finishFirst {
		fwd.finish = stage
	}
	g := &gateway{stage: stage, facts: &factObserver{facts: map[string]fact{}}, logs: &syncBuffer{}}
	logger := slog.New(slog.NewJSONHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p := pipeline.New(pipeline.Options{
		Routes: []*pipeline.Route{{
			Name: "r", Prefix: "/", MaxRequestBytes: maxBytes, Passthrough: true,
			Stages: []pipeline.Stage{stage}, Upstream: fwd,
		}},
		Observers: []pipeline.Observer{g.facts},
		Logger:    logger,
	})
	srv := httptest.NewServer(pipeline.NewHandler(p, logger))
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

// response is what a client saw, plus the gateway's facts about it.
type response struct {
	Status int
	Body   []byte
	fact
}

func (g *gateway) do(t testing.TB, req *http.Request) response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Body: body, fact: g.facts.get(t, res.Header.Get("X-Request-Id"))}
}

// errorBody is the OpenAI error shape.
type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    string  `json:"code"`
		Param   *string `json:"param"`
	} `json:"error"`
}

func decodeError(t testing.TB, b []byte) errorBody {
	t.Helper()
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %q is not an OpenAI error: %v", b, err)
	}
	if e.Error.Message == "" || e.Error.Type == "" || e.Error.Code == "" {
		t.Fatalf("error body %q lacks message, type or code", b)
	}
	return e
}

// chatBody renders a chat request whose user message is prompt.
func chatBody(prompt string, extra string) string {
	p, _ := json.Marshal(prompt)
	if extra != "" {
		extra = "," + extra
	}
	return fmt.Sprintf(`{"model":"meta-llama/Llama-3.1-8B-Instruct","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":%s}],"temperature":0.2,"max_tokens":256%s}`, p, extra)
}

func newRequest(t testing.TB, method, url, body string, header map[string]string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "OpenAI/Python 1.40.0")
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reflect answers with the status, headers and body a JSON request asks
// for, like the albedo test backend that CRS's response tests use.
func reflect(w http.ResponseWriter, body []byte) {
	var spec struct {
		Status      int               `json:"status"`
		Headers     map[string]string `json:"headers"`
		Body        string            `json:"body"`
		EncodedBody string            `json:"encodedBody"`
	}
	if err := json.Unmarshal(body, &spec); err != nil {
		http.Error(w, "invalid reflection spec", http.StatusBadRequest)
		return
	}
	out := []byte(spec.Body)
	if spec.Body == "" && spec.EncodedBody != "" {
		var err error
		if out, err = base64.StdEncoding.DecodeString(spec.EncodedBody); err != nil {
			http.Error(w, "invalid encodedBody", http.StatusBadRequest)
			return
		}
	}
	for k, v := range spec.Headers {
		w.Header().Add(k, v)
	}
	if spec.Status == 0 {
		spec.Status = http.StatusOK
	}
	if spec.Status < 100 || spec.Status > 599 {
		http.Error(w, "invalid status", http.StatusBadRequest)
		return
	}
	w.WriteHeader(spec.Status)
	_, _ = w.Write(out)
}
