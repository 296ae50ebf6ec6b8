// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
	"github.com/bulwarkai/bulwark/internal/testutil"
)

// redisServer is a real redis-server on a free loopback port, owned by one
// test. Tests fail (not skip) without redis-server: CI installs it.
type redisServer struct {
	t    testing.TB
	bin  string
	dir  string
	Addr string
	// args are extra redis-server arguments (cluster mode).
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedis(t testing.TB, args ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found on PATH (apt-get install -y redis-server): %v", err)
	}
	r := &redisServer{t: t, bin: bin, dir: t.TempDir(), Addr: freeAddr(t), args: args}
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

// freeAddr is a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// Start runs redis-server on r.Addr and waits until it answers PING.
func (r *redisServer) Start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.Addr)
	cmd := exec.Command(r.bin, append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log")}, r.args...)...)
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(r.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pingRedis(r.Addr) {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("redis-server on %s did not answer PING:\n%s", r.Addr, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (r *redisServer) Kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

func pingRedis(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

func redisConfig(addr, mode string) *config.LimitStore {
	return &config.LimitStore{FailureMode: mode, Redis: &config.RedisStore{
		Address: addr, Timeout: config.Duration(2 * time.Second), KeyPrefix: "bulwark:",
	}}
}

// mockLLM is an OpenAI-compatible upstream that reports usage. The
// completion uses the whole max_tokens it was given (the worst case for a
// token limit); prompt tokens are PromptTokens(request) when set, else 10.
type mockLLM struct {
	*httptest.Server
	PromptTokens func(r *llm.Request, bodyLen int) int64
	// hold, when set (SetHold), blocks streamed responses after the first
	// chunk until it is closed or the client goes away.
	hold atomic.Pointer[chan struct{}]
	// Bodies receives each request body when set.
	Bodies chan []byte
	calls  atomic.Int64
}

func newMockLLM(t testing.TB) *mockLLM {
	m := &mockLLM{}
	m.Server = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.Close)
	return m
}

// SetHold makes streams block after their first chunk until ch closes
// (nil: stream freely).
func (m *mockLLM) SetHold(ch chan struct{}) {
	if ch == nil {
		m.hold.Store(nil)
		return
	}
	m.hold.Store(&ch)
}

func (m *mockLLM) serve(w http.ResponseWriter, r *http.Request) {
	m.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	if m.Bodies != nil {
		m.Bodies <- body
	}
	req, err := llm.Parse(llm.Classify(r.Method, r.URL.Path), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	prompt := int64(10)
	if m.PromptTokens != nil {
		prompt = m.PromptTokens(req, len(body))
	}
	completion := int64(req.MaxTokens)
	if completion == 0 {
		completion = 20
	}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
			prompt, completion, prompt+completion)
		return
	}
	var so struct {
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	_ = json.Unmarshal(body, &so)
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	for i := int64(0); i < completion; i++ {
		fmt.Fprintf(w, "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok \"}}]}\n\n")
		fl.Flush()
		if hold := m.hold.Load(); i == 0 && hold != nil {
			select {
			case <-*hold:
			case <-r.Context().Done():
				return
			}
		}
	}
	if so.StreamOptions.IncludeUsage {
		fmt.Fprintf(w, "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n", prompt, completion, prompt+completion)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	fl.Flush()
}

// testForwarder proxies to an upstream the way the gateway's proxy does
// for these tests: it runs the response stages before the headers go out,
// records status and usage, asks streams for usage, strips the usage chunk
// the client did not ask for, and counts delivered chunks when a stream
// breaks off.
type testForwarder struct {
	upstream string
	client   *http.Client
}

func (f *testForwarder) Name() string { return "test" }

func (f *testForwarder) Forward(w http.ResponseWriter, r *http.Request, rc *pipeline.RequestContext) {
	body := rc.Body
	if rc.LLM != nil && rc.LLM.Stream && !rc.LLM.IncludeUsage {
		rc.StripUsageChunk = true
		b, err := llm.Rewrite(rc.API, body, llm.Edits{IncludeUsage: true})
		if err == nil {
			body = b
		}
	}
	out, _ := http.NewRequestWithContext(r.Context(), r.Method, f.upstream+r.URL.Path, bytes.NewReader(body))
	out.Header.Set("Content-Type", "application/json")
	res, err := f.client.Do(out)
	if err != nil {
		pipeline.Deny(w, rc, &pipeline.Decision{Status: http.StatusBadGateway, Type: pipeline.TypeUpstream, Code: "upstream_error", Message: "upstream failed", Stage: "proxy", Rule: "error", Reason: err.Error()})
		return
	}
	defer res.Body.Close()
	rc.Status = res.StatusCode
	for _, s := range rc.Route.ResponseStages() {
		if d, err := s.OnResponse(r.Context(), rc, res); err != nil || d != nil {
			pipeline.Deny(w, rc, d)
			return
		}
	}
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(res.Body)
		if u, ok := llm.UsageFromJSON(b); ok {
			rc.Usage = u
		}
		_, _ = w.Write(b)
		return
	}
	fl := w.(http.Flusher)
	sc := bufio.NewScanner(res.Body)
	var delivered int64
	for sc.Scan() {
		line := sc.Bytes()
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if ok {
			if u, ok := llm.UsageFromJSON(data); ok {
				rc.Usage = u
				if rc.StripUsageChunk && llm.IsUsageOnlyChunk(data) {
					sc.Scan() // the blank line after the event
					continue
				}
			} else if !bytes.Equal(data, []byte("[DONE]")) {
				delivered++
			}
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			break
		}
		fl.Flush()
	}
	if !rc.Usage.Reported {
		rc.Usage = llm.Usage{CompletionTokens: delivered}
	}
}

// identityStage sets the identity and tenant from test headers, standing
// in for authentication.
type identityStage struct{}

func (identityStage) Name() string { return "identity" }

func (identityStage) OnRequest(_ context.Context, rc *pipeline.RequestContext) (*pipeline.Decision, error) {
	rc.Identity = pipeline.Identity{ID: rc.Request.Header.Get("X-Test-Identity"), Tenant: rc.Request.Header.Get("X-Test-Tenant"), Method: "apiKey"}
	return nil, nil
}

// gateway is one in-process replica: pipeline + handler + server.
type gateway struct {
	*httptest.Server
	Stage   *Stage
	Store   Store
	Handler *pipeline.Handler
	Log     *testutil.SyncBuffer
	Reg     *prometheus.Registry
}

// newGateway builds a replica serving route with store (nil: a fresh
// memory store of its own).
func newGateway(t testing.TB, route config.Route, storeCfg *config.LimitStore, upstream string) *gateway {
	t.Helper()
	logBuf := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	var store Store
	if storeCfg == nil {
		store = NewMemoryStore()
	} else {
		var err error
		store, err = NewStore(t.Context(), storeCfg, logger, reg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
	}
	if route.Name == "" {
		route.Name = "r"
	}
	stage, err := New(&route, store, logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	stages := []pipeline.Stage{identityStage{}}
	if stage != nil {
		stages = append(stages, stage)
	}
	fwd := &testForwarder{upstream: upstream, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	p := pipeline.New(pipeline.Options{Logger: logger, Routes: []*pipeline.Route{{
		Name: route.Name, Prefix: "/v1/", MaxRequestBytes: 1 << 20, Stages: stages, Upstream: fwd,
	}}})
	h := pipeline.NewHandler(p, logger)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &gateway{Server: srv, Stage: stage, Store: store, Handler: h, Log: logBuf, Reg: reg}
}

// chat sends a chat completion and returns the response with its body read.
func chat(t testing.TB, url, identity string, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if identity != "" {
		req.Header.Set("X-Test-Identity", identity)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func chatBody(maxTokens int, stream bool, text string) string {
	b, _ := json.Marshal(map[string]any{
		"model": "gpt-4o", "max_tokens": maxTokens, "stream": stream,
		"messages": []map[string]string{{"role": "user", "content": text}},
	})
	if maxTokens == 0 {
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		delete(m, "max_tokens")
		b, _ = json.Marshal(m)
	}
	return string(b)
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
