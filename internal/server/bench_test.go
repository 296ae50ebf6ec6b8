// SPDX-License-Identifier: Apache-2.0

package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const benchReply = `{"id":"x","object":"chat.completion","model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"fixed reply"},"finish_reason":"stop"}],"usage":{"prompt_tokens":350,"completion_tokens":20,"total_tokens":370}}`

// BenchmarkGateway measures a full request through the gateway (identity,
// parse, audit, proxy) over loopback HTTP, client and upstream included.
// Compare with BenchmarkPlainProxy in the same run.
func BenchmarkGateway(b *testing.B) {
	up := fixedUpstream(b)
	dir := b.TempDir()
	key := "bench-key"
	sum := sha256.Sum256([]byte(key))
	cfg := fmt.Sprintf(`
listen: 127.0.0.1:0
adminListen: 127.0.0.1:0
upstreams: [{name: llm, endpoints: [%q]}]
identity: {apiKeys: [{id: bench, tenant: t, sha256: %s}]}
routes: [{name: r, pathPrefix: /v1/, upstream: llm}]
audit: {path: %s/audit.jsonl, prompts: hash}
telemetry: {logLevel: warn}
`, up.URL, hex.EncodeToString(sum[:]), dir)
	path := filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, Options{ConfigPath: path, Stderr: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Run(ctx) }()
	waitReady(b, "http://"+s.AdminAddr()+"/readyz")
	load(b, "http://"+s.Addr()+"/v1/chat/completions", key)
}

func fixedUpstream(b *testing.B) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, benchReply)
	}))
	b.Cleanup(up.Close)
	return up
}

func waitReady(b *testing.B, url string) {
	for range 100 {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("not ready")
}

func load(b *testing.B, url, key string) {
	body, err := os.ReadFile("../../bench/chat-1500.json")
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}

// BenchmarkPlainProxy is the baseline for BenchmarkGateway: a bare
// httputil.ReverseProxy with the same transport tuning, same client and
// upstream.
func BenchmarkPlainProxy(b *testing.B) {
	up := fixedUpstream(b)
	target, _ := url.Parse(up.URL)
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, DisableCompression: true},
	}
	ps := httptest.NewServer(rp)
	defer ps.Close()
	load(b, ps.URL+"/v1/chat/completions", "k")
}
