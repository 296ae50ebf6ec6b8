// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkai/bulwark/internal/demo"
	"github.com/bulwarkai/bulwark/internal/testutil"
)

const (
	aliceKey = "sk-alice-0123456789"
	bobKey   = "sk-bob-9876543210"
)

// baseConfig is the example policy, with test addresses.
func baseConfig(upstream, extra string) string {
	return fmt.Sprintf(`
listen: 127.0.0.1:8080
adminListen: 127.0.0.1:9090
upstreams:
  - name: llm
    endpoints: [%q]
    responseHeaderTimeout: 2s
    auth:
      headers:
        X-Upstream-Secret: s3cret
identity:
  apiKeys:
    - id: alice
      tenant: acme
      sha256: %s
    - id: bob
      tenant: globex
      sha256: %s
routes:
  - name: openai
    pathPrefix: /v1/
    upstream: llm
    maxRequestBytes: 4096
    access:
      - tenants: [acme]
      - identities: [bob]
        models: ["small-*"]
audit:
  path: ${TMP}/audit.jsonl
  prompts: hash
%s`, upstream, testutil.KeySHA256(aliceKey), testutil.KeySHA256(bobKey), extra)
}

func startDemoUpstream(t *testing.T) (*demo.Upstream, *httptest.Server) {
	t.Helper()
	u := &demo.Upstream{}
	s := httptest.NewServer(u.Handler())
	t.Cleanup(s.Close)
	return u, s
}

type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    string  `json:"code"`
		Param   *string `json:"param"`
	} `json:"error"`
}

func do(t *testing.T, method, url, key, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json") // as the OpenAI SDKs send
	}
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
	return res, b
}

const chatBody = `{"model":"big-model","messages":[{"role":"user","content":"Hello there"}]}`

func TestAnswers(t *testing.T) {
	_, up := startDemoUpstream(t)
	g := startGateway(t, baseConfig(up.URL, ""))
	chat := g.URL + "/v1/chat/completions"

	tests := []struct {
		name       string
		method     string
		url        string
		key        string
		body       string
		hdr        []string
		wantStatus int
		wantType   string
		wantCode   string
	}{
		{"ok", "POST", chat, aliceKey, chatBody, nil, 200, "", ""},
		{"x-api-key header", "POST", chat, "", chatBody, []string{"X-Api-Key", aliceKey}, 200, "", ""},
		{"missing credentials", "POST", chat, "", chatBody, nil, 401, "authentication_error", "missing_credentials"},
		{"invalid key", "POST", chat, "sk-wrong", chatBody, nil, 401, "authentication_error", "invalid_credentials"},
		{"model not allowed", "POST", chat, bobKey, chatBody, nil, 403, "permission_error", "access_denied"},
		{"model allowed by glob", "POST", chat, bobKey, strings.Replace(chatBody, "big-model", "small-7b", 1), nil, 200, "", ""},
		{"no route", "GET", g.URL + "/admin", aliceKey, "", nil, 404, "not_found_error", "route_not_found"},
		{"unsupported endpoint", "POST", g.URL + "/v1/fine_tuning/jobs", aliceKey, "{}", nil, 404, "not_found_error", "unsupported_endpoint"},
		{"malformed json", "POST", chat, aliceKey, `{"model":"m","messages":[`, nil, 400, "invalid_request_error", "invalid_body"},
		{"wrong shape", "POST", chat, aliceKey, `{"model":"m","messages":"hi"}`, nil, 400, "invalid_request_error", "invalid_body"},
		{"missing model", "POST", chat, aliceKey, `{"messages":[]}`, nil, 400, "invalid_request_error", "invalid_body"},
		{"too large", "POST", chat, aliceKey, `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("a", 5000) + `"}]}`, nil, 413, "invalid_request_error", "request_too_large"},
		{"upstream timeout", "POST", chat, aliceKey, chatBody, []string{"X-Demo-Delay", "3s"}, 504, "upstream_error", "upstream_timeout"},
		{"upstream error status passes through", "POST", chat, aliceKey, chatBody, []string{"X-Demo-Status", "500"}, 500, "server_error", ""},
		{"embeddings", "POST", g.URL + "/v1/embeddings", aliceKey, `{"model":"e","input":["a","b"]}`, nil, 200, "", ""},
		{"completions", "POST", g.URL + "/v1/completions", aliceKey, `{"model":"m","prompt":"say hi"}`, nil, 200, "", ""},
		{"responses", "POST", g.URL + "/v1/responses", aliceKey, `{"model":"m","input":"hi"}`, nil, 200, "", ""},
		{"models", "GET", g.URL + "/v1/models", aliceKey, "", nil, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, tt.method, tt.url, tt.key, tt.body, tt.hdr...)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", res.StatusCode, tt.wantStatus, body)
			}
			if res.Header.Get("X-Request-Id") == "" {
				t.Error("response has no X-Request-Id")
			}
			if tt.wantType == "" {
				return
			}
			var e errorBody
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body is not JSON: %v: %s", err, body)
			}
			if e.Error.Type != tt.wantType || e.Error.Code != tt.wantCode || e.Error.Message == "" {
				t.Errorf("error = %+v, want type %q code %q and a message", e.Error, tt.wantType, tt.wantCode)
			}
		})
	}
}

func TestUpstreamUnreachableAndUnhealthy(t *testing.T) {
	// A port with nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()

	t.Run("unreachable is 502", func(t *testing.T) {
		g := startGateway(t, baseConfig(dead, ""))
		res, body := do(t, "POST", g.URL+"/v1/chat/completions", aliceKey, chatBody)
		if res.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), `"upstream_unreachable"`) {
			t.Fatalf("got %d %s, want 502 upstream_unreachable", res.StatusCode, body)
		}
	})
	t.Run("no healthy endpoint is 503", func(t *testing.T) {
		cfg := strings.Replace(baseConfig(dead, ""), "    responseHeaderTimeout: 2s\n",
			"    responseHeaderTimeout: 2s\n    healthCheck: {path: /health, interval: 100ms, timeout: 50ms, unhealthyThreshold: 1}\n", 1)
		g := startGateway(t, cfg)
		testutil.WaitFor(t, 5*time.Second, "endpoint marked unhealthy", func() bool {
			return strings.Contains(g.Metric(t), `bulwark_upstream_endpoint_healthy{endpoint="`+dead+`",upstream="llm"} 0`)
		})
		res, body := do(t, "POST", g.URL+"/v1/chat/completions", aliceKey, chatBody)
		if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"no_healthy_upstream"`) {
			t.Fatalf("got %d %s, want 503 no_healthy_upstream", res.StatusCode, body)
		}
	})
}

func TestBalancingSkipsDeadAndSpreadsLoad(t *testing.T) {
	up1, s1 := startDemoUpstream(t)
	up2, s2 := startDemoUpstream(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	cfg := strings.Replace(baseConfig(s1.URL, ""), fmt.Sprintf("[%q]", s1.URL), fmt.Sprintf("[%q, %q, %q]", s1.URL, s2.URL, dead), 1)
	cfg = strings.Replace(cfg, "    responseHeaderTimeout: 2s\n",
		"    responseHeaderTimeout: 2s\n    healthCheck: {path: /health, interval: 100ms, timeout: 50ms, unhealthyThreshold: 1}\n", 1)
	g := startGateway(t, cfg)
	testutil.WaitFor(t, 5*time.Second, "dead endpoint marked unhealthy", func() bool {
		return strings.Contains(g.Metric(t), `endpoint="`+dead+`",upstream="llm"} 0`)
	})
	for range 40 {
		if res, body := do(t, "POST", g.URL+"/v1/chat/completions", aliceKey, chatBody); res.StatusCode != 200 {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
	}
	n1, n2 := up1.Requests.Load(), up2.Requests.Load()
	// Health checks add a few requests each; traffic must reach both.
	if n1 < 15 || n2 < 15 {
		t.Errorf("requests per endpoint = %d, %d; want both well used", n1, n2)
	}
}

// TestUpstreamCredentials: the upstream sees the gateway's credential,
// never the client's key.
func TestUpstreamCredentials(t *testing.T) {
	t.Setenv("BULWARK_TEST_UPSTREAM_TOKEN", "upstream-token-123")
	up, s := startDemoUpstream(t)
	g := startGateway(t, strings.Replace(baseConfig(s.URL, ""), "    auth:\n", "    auth:\n      bearerTokenEnv: BULWARK_TEST_UPSTREAM_TOKEN\n", 1))
	res, body := do(t, "POST", g.URL+"/v1/chat/completions", aliceKey, chatBody)
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if got, want := up.LastAuthorization(), "Bearer upstream-token-123"; got != want {
		t.Errorf("upstream Authorization = %q, want %q (never the client's key)", got, want)
	}
	res, body = do(t, "POST", g.URL+"/v1/chat/completions", "", chatBody, "X-Api-Key", aliceKey)
	if res.StatusCode != 200 || strings.Contains(up.LastAuthorization(), aliceKey) {
		t.Errorf("x-api-key request: status %d, upstream Authorization %q", res.StatusCode, up.LastAuthorization())
	}
}

// TestStreamingIsNotBuffered proves each SSE chunk reaches the client
// before the upstream writes the next: the upstream waits for the client
// to acknowledge every chunk.
func TestStreamingIsNotBuffered(t *testing.T) {
	ack := make(chan struct{})
	var upstreamDone atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range 3 {
			fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok%d \"}}]}\n\n", i)
			_ = rc.Flush()
			select {
			case <-ack:
			case <-time.After(5 * time.Second):
				return // the client never saw the chunk: buffered
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
		upstreamDone.Store(true)
	}))
	defer up.Close()
	g := startGateway(t, baseConfig(up.URL, ""))

	req, _ := http.NewRequest("POST", g.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+aliceKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content-type = %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	var got []string
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		got = append(got, line)
		if strings.Contains(line, "tok") {
			if upstreamDone.Load() {
				t.Fatal("upstream finished before the client read a chunk: the stream was buffered")
			}
			ack <- struct{}{}
		}
	}
	if len(got) != 4 || got[3] != "data: [DONE]" {
		t.Errorf("stream lines = %q", got)
	}
}

func TestStreamUsageCountedAndInjectedChunkStripped(t *testing.T) {
	up, s := startDemoUpstream(t)
	g := startGateway(t, baseConfig(s.URL, ""))
	for _, tc := range []struct {
		name         string
		includeUsage bool
	}{{"client did not ask", false}, {"client asked", true}} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"one two three"}]}`
			if tc.includeUsage {
				body = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}`
			}
			res, out := do(t, "POST", g.URL+"/v1/chat/completions", aliceKey, body)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			if !strings.Contains(string(up.LastBody()), `"include_usage":true`) {
				t.Errorf("upstream was not asked for usage: %s", up.LastBody())
			}
			if got := strings.Contains(string(out), `"usage"`); got != tc.includeUsage {
				t.Errorf("usage chunk in client stream = %v, want %v:\n%s", got, tc.includeUsage, out)
			}
			if !strings.HasSuffix(string(out), "data: [DONE]\n\n") {
				t.Errorf("stream does not end with [DONE]: %q", out)
			}
		})
	}
	// "You said: one two three" is 5 words = 5 completion tokens; 3 prompt.
	testutil.WaitFor(t, 5*time.Second, "token metrics", func() bool {
		m := g.Metric(t)
		return strings.Contains(m, `bulwark_tokens_total{kind="completion",model="m",route="openai"} 10`) &&
			strings.Contains(m, `bulwark_tokens_total{kind="prompt",model="m",route="openai"} 6`)
	})
}

// TestClientDisconnectCancelsUpstream: when the client goes away mid-stream
// the upstream request's context is cancelled.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	cancelled := make(chan struct{})
	started := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n")
		_ = http.NewResponseController(w).Flush()
		close(started)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	}))
	defer up.Close()
	g := startGateway(t, baseConfig(up.URL, ""))

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", g.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+aliceKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	_, _ = res.Body.Read(make([]byte, 64))
	cancel()
	res.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream request was not cancelled after the client disconnected")
	}
}

func TestAuditLine(t *testing.T) {
	_, s := startDemoUpstream(t)
	g := startGateway(t, baseConfig(s.URL, ""))
	audit := filepath.Join(filepath.Dir(g.ConfigPath), "audit.jsonl")

	res, _ := do(t, "POST", g.URL+"/v1/chat/completions", aliceKey, `{"model":"big-model","messages":[{"role":"user","content":"my secret prompt"}]}`)
	okID := res.Header.Get("X-Request-Id")
	res, _ = do(t, "POST", g.URL+"/v1/chat/completions", bobKey, chatBody)
	denyID := res.Header.Get("X-Request-Id")

	var lines []map[string]any
	testutil.WaitFor(t, 5*time.Second, "two audit lines", func() bool {
		lines = auditLines(t, audit)
		return len(lines) >= 2
	})
	raw, _ := os.ReadFile(audit)
	for _, secret := range []string{aliceKey, bobKey, "my secret prompt"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("audit log contains %q", secret)
		}
	}
	byID := map[string]map[string]any{}
	for _, l := range lines {
		byID[l["request_id"].(string)] = l
	}
	ok := byID[okID]
	if ok == nil {
		t.Fatalf("no audit line for %s", okID)
	}
	want := map[string]any{
		"identity": "alice", "tenant": "acme", "route": "openai", "model": "big-model", "status": float64(200),
		"prompt_tokens": float64(3), "completion_tokens": float64(5), "client_ip": "127.0.0.1", "api": "chat.completions",
		"decision": map[string]any{"outcome": "allow"}, "endpoint": s.URL, "auth_method": "apiKey",
	}
	for k, v := range want {
		if diff := cmp.Diff(v, ok[k]); diff != "" {
			t.Errorf("audit %s (-want +got):\n%s", k, diff)
		}
	}
	for _, k := range []string{"time", "latency_ms", "ttfb_ms", "prompt_sha256"} {
		if _, present := ok[k]; !present {
			t.Errorf("audit line lacks %q: %v", k, ok)
		}
	}
	deny := byID[denyID]
	if diff := cmp.Diff(map[string]any{"outcome": "deny", "stage": "access", "rule": "no_matching_rule"}, deny["decision"]); diff != "" {
		t.Errorf("deny decision (-want +got):\n%s", diff)
	}
	// The canonical decision line for the denial is in the process log.
	if !strings.Contains(g.Log.String(), `"msg":"bulwark.decision","request_id":"`+denyID+`","decision":"deny","status":403`) {
		t.Errorf("no canonical decision line for %s in:\n%s", denyID, g.Log.String())
	}
	if strings.Contains(g.Log.String(), aliceKey) || strings.Contains(g.Log.String(), bobKey) {
		t.Error("process log contains an API key")
	}
}

func TestAuditFlushedOnShutdown(t *testing.T) {
	_, s := startDemoUpstream(t)
	g := startGateway(t, baseConfig(s.URL, ""))
	audit := filepath.Join(filepath.Dir(g.ConfigPath), "audit.jsonl")
	const n = 5
	for range n {
		do(t, "POST", g.URL+"/v1/chat/completions", aliceKey, chatBody)
	}
	g.Stop(t)
	if got := len(auditLines(t, audit)); got != n {
		t.Errorf("audit lines after shutdown = %d, want %d", got, n)
	}
}

func TestGracefulShutdownFinishesStreams(t *testing.T) {
	_, s := startDemoUpstream(t)
	g := startGateway(t, baseConfig(s.URL, ""))
	req, _ := http.NewRequest("POST", g.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"a b c d e f g h"}]}`))
	req.Header.Set("Authorization", "Bearer "+aliceKey)
	req.Header.Set("X-Demo-Chunk-Delay", "100ms")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	g.Cancel() // SIGTERM equivalent while the stream runs
	testutil.WaitFor(t, 5*time.Second, "readyz to report 503", func() bool {
		r, err := http.Get(g.AdminURL + "/readyz")
		if err != nil {
			return true // admin already closed
		}
		r.Body.Close()
		return r.StatusCode == http.StatusServiceUnavailable
	})
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("stream broke during shutdown: %v", err)
	}
	if !strings.HasSuffix(string(body), "data: [DONE]\n\n") || strings.Count(string(body), `"content":"`) < 10 {
		t.Errorf("stream did not complete: %q", body)
	}
	if err := g.Wait(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if _, err := http.Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody)); err == nil {
		t.Error("gateway still accepts connections after shutdown")
	}
}
