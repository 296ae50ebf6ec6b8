// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Upstream is a small OpenAI-compatible server. It answers every chat with
// "You said: <last user message>", split into one word per stream chunk and
// counting one token per word, so tests can predict exactly what flows back.
//
// For tests, a few request headers steer it: X-Demo-Delay delays the
// response headers, X-Demo-Chunk-Delay spaces stream chunks, X-Demo-Status
// forces an error status, and X-Demo-Reply replaces the reply text.
type Upstream struct {
	// Requests counts requests served, for tests.
	Requests atomic.Int64
	// LastAuthorization and LastBody record what the upstream last saw.
	lastAuth   atomic.Pointer[string]
	lastBody   atomic.Pointer[[]byte]
	lastHeader atomic.Pointer[http.Header]
}

// LastHeader is the request header of the last request.
func (u *Upstream) LastHeader() http.Header {
	if p := u.lastHeader.Load(); p != nil {
		return *p
	}
	return nil
}

// LastAuthorization is the Authorization header of the last request.
func (u *Upstream) LastAuthorization() string {
	if p := u.lastAuth.Load(); p != nil {
		return *p
	}
	return ""
}

// LastBody is the body of the last request.
func (u *Upstream) LastBody() []byte {
	if p := u.lastBody.Load(); p != nil {
		return *p
	}
	return nil
}

// Handler serves the OpenAI-compatible API.
func (u *Upstream) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /v1/models", u.models)
	mux.HandleFunc("POST /v1/chat/completions", u.chat)
	mux.HandleFunc("POST /v1/completions", u.chat)
	mux.HandleFunc("POST /v1/embeddings", u.embeddings)
	mux.HandleFunc("POST /v1/responses", u.responses)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.Requests.Add(1)
		auth := r.Header.Get("Authorization")
		u.lastAuth.Store(&auth)
		h := r.Header.Clone()
		u.lastHeader.Store(&h)
		if d, err := time.ParseDuration(r.Header.Get("X-Demo-Delay")); err == nil {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if s := r.Header.Get("X-Demo-Status"); s != "" {
			var code int
			_, _ = fmt.Sscan(s, &code)
			writeJSON(w, code, map[string]any{"error": map[string]any{"message": "forced by X-Demo-Status", "type": "server_error"}})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Prompt        json.RawMessage `json:"prompt"`
	Stream        bool            `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           int `json:"max_tokens"`
	MaxCompletionTokens int `json:"max_completion_tokens"`
}

func (u *Upstream) read(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err == nil {
		u.lastBody.Store(&body)
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": err.Error(), "type": "invalid_request_error"}})
		return false
	}
	return true
}

func (u *Upstream) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if !u.read(w, r, &req) {
		return
	}
	chat := strings.HasSuffix(r.URL.Path, "/chat/completions")
	prompt := lastUserText(&req)
	reply := r.Header.Get("X-Demo-Reply")
	if reply == "" {
		reply = "You said: " + prompt
	}
	words := strings.SplitAfter(reply, " ")
	limit := req.MaxTokens
	if req.MaxCompletionTokens > 0 {
		limit = req.MaxCompletionTokens
	}
	finish := "stop"
	if limit > 0 && len(words) > limit {
		words, finish = words[:limit], "length"
	}
	usage := map[string]int{"prompt_tokens": countTokens(prompt), "completion_tokens": len(words), "total_tokens": countTokens(prompt) + len(words)}
	id := fmt.Sprintf("demo-%d", time.Now().UnixNano())
	object := "text_completion"
	if chat {
		object = "chat.completion"
	}
	if !req.Stream {
		choice := map[string]any{"index": 0, "finish_reason": finish}
		if chat {
			choice["message"] = map[string]any{"role": "assistant", "content": strings.Join(words, "")}
		} else {
			choice["text"] = strings.Join(words, "")
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": object, "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{choice}, "usage": usage})
		return
	}

	chunkDelay, _ := time.ParseDuration(r.Header.Get("X-Demo-Chunk-Delay"))
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher := http.NewResponseController(w)
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		return flusher.Flush() == nil
	}
	chunk := func(text string, fin any) map[string]any {
		c := map[string]any{"index": 0, "finish_reason": fin}
		if chat {
			c["delta"] = map[string]any{"content": text}
		} else {
			c["text"] = text
		}
		return map[string]any{"id": id, "object": object + ".chunk", "created": time.Now().Unix(), "model": req.Model, "choices": []any{c}}
	}
	for _, wd := range words {
		if chunkDelay > 0 {
			select {
			case <-time.After(chunkDelay):
			case <-r.Context().Done():
				return
			}
		}
		if !send(chunk(wd, nil)) {
			return
		}
	}
	send(chunk("", finish))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		send(map[string]any{"id": id, "object": object + ".chunk", "created": time.Now().Unix(), "model": req.Model, "choices": []any{}, "usage": usage})
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	_ = flusher.Flush()
}

func (u *Upstream) embeddings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if !u.read(w, r, &req) {
		return
	}
	var inputs []string
	if json.Unmarshal(req.Input, &inputs) != nil {
		var s string
		_ = json.Unmarshal(req.Input, &s)
		inputs = []string{s}
	}
	var data []any
	tokens := 0
	for i, in := range inputs {
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": vector(in)})
		tokens += countTokens(in)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "model": req.Model, "data": data,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}})
}

func (u *Upstream) responses(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if !u.read(w, r, &req) {
		return
	}
	var s string
	_ = json.Unmarshal(req.Input, &s)
	reply := "You said: " + s
	out := countTokens(reply)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": fmt.Sprintf("resp-%d", time.Now().UnixNano()), "object": "response", "model": req.Model, "status": "completed",
		"output": []any{map[string]any{"type": "message", "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "text": reply}}}},
		"usage": map[string]int{"input_tokens": countTokens(s), "output_tokens": out, "total_tokens": countTokens(s) + out},
	})
}

func (u *Upstream) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{
		map[string]any{"id": "demo", "object": "model", "owned_by": "bulwark"},
		map[string]any{"id": "demo-embed", "object": "model", "owned_by": "bulwark"},
	}})
}

// lastUserText is the text of the last user message, or the prompt.
func lastUserText(req *chatRequest) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		if m.Role != "user" {
			continue
		}
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			return s
		}
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if json.Unmarshal(m.Content, &parts) == nil {
			var b strings.Builder
			for _, p := range parts {
				b.WriteString(p.Text)
			}
			return b.String()
		}
	}
	var s string
	if json.Unmarshal(req.Prompt, &s) == nil {
		return s
	}
	return ""
}

// countTokens counts words: the demo's stand-in for a tokenizer.
func countTokens(s string) int { return len(strings.Fields(s)) }

func vector(s string) []float64 {
	sum := sha256.Sum256([]byte(s))
	v := make([]float64, 8)
	var norm float64
	for i := range v {
		x := float64(int32(binary.BigEndian.Uint32(sum[i*4:]))) / math.MaxInt32
		v[i] = x
		norm += x * x
	}
	for i := range v {
		v[i] /= math.Sqrt(norm)
	}
	return v
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
