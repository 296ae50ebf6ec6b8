// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
	"github.com/bulwarkai/bulwark/internal/ratelimit/tokens"
	"github.com/bulwarkai/bulwark/internal/testutil"
)

func limitRoute(limits ...config.Limit) config.Route {
	r := config.Route{Name: "r", PathPrefix: "/v1/", Timeout: config.Duration(time.Minute), Limits: limits}
	for i := range r.Limits {
		l := &r.Limits[i]
		if l.Key == "" {
			l.Key = "identity"
		}
		if l.Window == 0 && (l.Requests != 0 || l.Tokens != 0 || l.InputTokens != 0 || l.OutputTokens != 0) {
			l.Window = config.Duration(time.Hour)
		}
		if l.Budget != 0 && l.Period == "" {
			l.Period = "day"
		}
	}
	return r
}

// errorBody is the OpenAI error shape.
type errorBody struct {
	Error struct {
		Type string `json:"type"`
		Code string `json:"code"`
	} `json:"error"`
}

func errOf(t testing.TB, b []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	return e
}

// decisionLines returns the canonical decision log lines.
func decisionLines(t testing.TB, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == pipeline.DecisionMsg {
			out = append(out, m)
		}
	}
	return out
}

func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Counter != nil:
				return m.Counter.GetValue()
			}
		}
	}
	return 0
}

// TestReplicasShareRequestLimit: three gateways on one Redis admit exactly
// the quota of a concurrent burst, and the refusals carry the headers and
// the audit names the limit.
func TestReplicasShareRequestLimit(t *testing.T) {
	r := startRedis(t)
	up := newMockLLM(t)
	route := limitRoute(config.Limit{Name: "rpm", Requests: 25})
	var gws []*gateway
	for range 3 {
		gws = append(gws, newGateway(t, route, redisConfig(r.Addr, "closed"), up.URL))
	}
	const perReplica = 30
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var refusal *http.Response
	var refusalBody []byte
	for _, g := range gws {
		for range perReplica {
			wg.Go(func() {
				res, b := chat(t, g.URL, "alice", chatBody(10, false, "hello"))
				switch res.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
					mu.Lock()
					refusal, refusalBody = res, b
					mu.Unlock()
				default:
					t.Errorf("status %d: %s\n%s", res.StatusCode, b, g.Log.String())
				}
			})
		}
	}
	wg.Wait()
	if ok.Load() != 25 || limited.Load() != 3*perReplica-25 {
		t.Fatalf("allowed %d, limited %d; want exactly 25 and %d", ok.Load(), limited.Load(), 3*perReplica-25)
	}
	if got := up.calls.Load(); got != 25 {
		t.Errorf("upstream saw %d requests, want 25", got)
	}
	if e := errOf(t, refusalBody); e.Error.Type != "rate_limit_exceeded" || e.Error.Code != "rate_limit_exceeded" {
		t.Errorf("refusal error = %+v, want rate_limit_exceeded", e.Error)
	}
	h := refusal.Header
	if ra := atoi(h.Get("Retry-After")); ra < 1 || ra > 3600/25+1 {
		t.Errorf("Retry-After = %q, want 1..%d", h.Get("Retry-After"), 3600/25+1)
	}
	if got, want := h.Get(HeaderPolicy), `"rpm";q=25;w=3600`; got != want {
		t.Errorf("%s = %q, want %q", HeaderPolicy, got, want)
	}
	if got := h.Get(HeaderState); !strings.HasPrefix(got, `"rpm";r=0;t=`) {
		t.Errorf("%s = %q, want \"rpm\";r=0;t=...", HeaderState, got)
	}
	if h.Get(HeaderRemainingRequests) != "0" || h.Get(HeaderLimitRequests) != "25" || h.Get(HeaderResetRequests) == "" {
		t.Errorf("x-ratelimit headers = %v", h)
	}
	var denials int
	for _, g := range gws {
		for _, line := range decisionLines(t, g.Log.String()) {
			if line[pipeline.LogDecision] == "deny" {
				denials++
				if line[pipeline.LogStage] != StageName || line[pipeline.LogRule] != "rpm" {
					t.Errorf("decision line names stage %v rule %v, want limits/rpm", line[pipeline.LogStage], line[pipeline.LogRule])
				}
			}
		}
	}
	if denials != 3*perReplica-25 {
		t.Errorf("%d deny lines, want %d", denials, 3*perReplica-25)
	}
}

// TestTokenLimitNotOvershot drives a token limit to exhaustion with
// concurrent clients whose upstream uses every token it may. What the
// limit admits never exceeds the quota plus the refill during the test.
func TestTokenLimitNotOvershot(t *testing.T) {
	for _, storeKind := range []string{"memory", "redis"} {
		t.Run(storeKind, func(t *testing.T) {
			up := newMockLLM(t)
			up.PromptTokens = tokens.Prompt // the estimate is exact: actual == reserved
			const quota = 6000
			route := limitRoute(config.Limit{Name: "tpm", Tokens: quota})
			route.MaxOutputTokens = 150
			var gws []*gateway
			if storeKind == "memory" {
				gws = append(gws, newGateway(t, route, nil, up.URL))
			} else {
				r := startRedis(t)
				for range 3 {
					gws = append(gws, newGateway(t, route, redisConfig(r.Addr, "closed"), up.URL))
				}
			}
			start := time.Now()
			var used, maxReservation atomic.Int64
			var wg sync.WaitGroup
			for c := range 12 {
				g := gws[c%len(gws)]
				wg.Go(func() {
					for i := 0; ; i++ {
						text := strings.Repeat("lorem ipsum dolor sit amet ", 5+(c*7+i)%40)
						// max_tokens within the route cap, so the body reaches the
						// upstream unchanged and its count equals the estimate.
						body := chatBody(50+(c*13+i*29)%101, false, text)
						res, b := chat(t, g.URL, "team", body)
						if res.StatusCode == http.StatusTooManyRequests {
							return
						}
						if res.StatusCode != http.StatusOK {
							t.Errorf("status %d: %s", res.StatusCode, b)
							return
						}
						u, _ := llm.UsageFromJSON(b)
						used.Add(u.Total())
						for {
							m := maxReservation.Load()
							if u.Total() <= m || maxReservation.CompareAndSwap(m, u.Total()) {
								break
							}
						}
					}
				})
			}
			wg.Wait()
			refill := int64(float64(quota)*time.Since(start).Seconds()/3600) + 1
			if got := used.Load(); got > quota+refill {
				t.Errorf("token limit admitted %d tokens, more than quota %d + refill %d", got, quota, refill)
			}
			if got := used.Load(); got < quota-maxReservation.Load() {
				t.Errorf("token limit admitted only %d tokens of %d (largest request %d): refusals came too early", got, quota, maxReservation.Load())
			}
		})
	}
}

// TestTokenDebtBlocks: usage beyond the reservation (an upstream ignoring
// max_tokens) is charged when the request settles, so the next request
// waits for the debt to drain.
func TestTokenDebtBlocks(t *testing.T) {
	up := newMockLLM(t)
	up.PromptTokens = func(*llm.Request, int) int64 { return 5000 }
	g := newGateway(t, limitRoute(config.Limit{Name: "tpm", Tokens: 1000}), nil, up.URL)
	if res, b := chat(t, g.URL, "a", chatBody(10, false, "hi")); res.StatusCode != http.StatusOK {
		t.Fatalf("first request: %d %s", res.StatusCode, b)
	}
	res, b := chat(t, g.URL, "a", chatBody(10, false, "hi"))
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second request: %d %s, want 429 while in debt", res.StatusCode, b)
	}
	if got := metricValue(t, g.Reg, "bulwark_limit_unreserved_tokens_total", nil); got <= 0 {
		t.Errorf("bulwark_limit_unreserved_tokens_total = %v, want > 0", got)
	}
}

// remainingTokens reads a token bucket's remaining units straight from the
// store with a zero-cost claim.
func remainingTokens(t testing.TB, s Store, identity, limitName string, quota int64) int64 {
	t.Helper()
	key := "bulwark:{" + hashTag(keyIdentity, identity) + "}:r:" + limitName
	v, err := s.Acquire(t.Context(), []Claim{{Kind: Bucket, Key: key, Quota: quota, Window: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	return v.Results[0].Remaining
}

// TestStreamUsageCounted: a stream's usage, asked of the upstream for a
// client that did not ask for it, settles the reservation, and the usage
// chunk is not passed to that client. A stream that breaks off is charged
// its prompt and what was delivered.
func TestStreamUsageCounted(t *testing.T) {
	for _, storeKind := range []string{"memory", "redis"} {
		t.Run(storeKind, func(t *testing.T) {
			var cfg *config.LimitStore
			if storeKind == "redis" {
				cfg = redisConfig(startRedis(t).Addr, "closed")
			}
			up := newMockLLM(t)
			up.PromptTokens = func(*llm.Request, int) int64 { return 5 }
			route := limitRoute(config.Limit{Name: "tpm", Tokens: 100000})
			g := newGateway(t, route, cfg, up.URL)

			t.Run("complete stream", func(t *testing.T) {
				res, b := chat(t, g.URL, "streamer", chatBody(7, true, "count to seven"))
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", res.StatusCode, b)
				}
				if strings.Contains(string(b), `"usage"`) {
					t.Errorf("client that did not ask for usage got the usage chunk:\n%s", b)
				}
				if got, want := remainingTokens(t, g.Store, "streamer", "tpm", 100000), int64(100000-5-7); got != want {
					t.Errorf("remaining after stream = %d, want %d (prompt 5 + completion 7 charged)", got, want)
				}
			})
			t.Run("client asked for usage", func(t *testing.T) {
				body := `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"max_tokens":3,"messages":[{"role":"user","content":"hi"}]}`
				res, b := chat(t, g.URL, "asker", body)
				if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `"usage"`) {
					t.Fatalf("status %d, want the usage chunk kept:\n%s", res.StatusCode, b)
				}
			})
			t.Run("stream broken off", func(t *testing.T) {
				up.SetHold(make(chan struct{}))
				defer up.SetHold(nil)
				ctx, cancel := context.WithCancel(t.Context())
				body := chatBody(50, true, "a long story")
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("X-Test-Identity", "breaker")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				line, _ := bufio.NewReader(res.Body).ReadString('\n')
				if !strings.HasPrefix(line, "data: ") {
					t.Fatalf("first stream line = %q", line)
				}
				cancel()
				res.Body.Close()
				req2, _ := llm.Parse(llm.APIChat, []byte(body))
				want := int64(100000) - tokens.Prompt(req2, len(body)) - 1
				testutil.WaitFor(t, 5*time.Second, "the broken stream to settle", func() bool {
					return remainingTokens(t, g.Store, "breaker", "tpm", 100000) == want
				})
			})
		})
	}
}

// TestStoreOutage kills Redis mid-run: failureMode closed answers 503,
// open lets requests through and counts them; both log and flip the
// store metric, and both recover by themselves once Redis is back.
func TestStoreOutage(t *testing.T) {
	for _, mode := range []string{"closed", "open"} {
		t.Run(mode, func(t *testing.T) {
			r := startRedis(t)
			up := newMockLLM(t)
			g := newGateway(t, limitRoute(config.Limit{Name: "rpm", Requests: 3}), redisConfig(r.Addr, mode), up.URL)
			if res, b := chat(t, g.URL, "a", chatBody(5, false, "hi")); res.StatusCode != http.StatusOK {
				t.Fatalf("before outage: %d %s", res.StatusCode, b)
			}
			r.Kill()
			switch mode {
			case "closed":
				for i := range breakerThreshold + 2 {
					res, b := chat(t, g.URL, "a", chatBody(5, false, "hi"))
					if res.StatusCode != http.StatusServiceUnavailable {
						t.Fatalf("during outage, request %d: %d %s, want 503", i, res.StatusCode, b)
					}
					if e := errOf(t, b); e.Error.Code != "limit_store_unavailable" {
						t.Errorf("error code %q, want limit_store_unavailable", e.Error.Code)
					}
				}
			case "open":
				for i := range 5 { // more than the quota: nothing is enforced
					if res, b := chat(t, g.URL, "a", chatBody(5, false, "hi")); res.StatusCode != http.StatusOK {
						t.Fatalf("during outage, request %d: %d %s, want 200", i, res.StatusCode, b)
					}
				}
				if got := metricValue(t, g.Reg, "bulwark_limit_fail_open_total", map[string]string{"route": "r"}); got != 5 {
					t.Errorf("bulwark_limit_fail_open_total = %v, want 5", got)
				}
			}
			if got := metricValue(t, g.Reg, "bulwark_limit_store_up", map[string]string{"store": "redis"}); got != 0 {
				t.Errorf("bulwark_limit_store_up = %v during outage, want 0", got)
			}
			if !strings.Contains(g.Log.String(), "limit store unreachable") {
				t.Errorf("no 'limit store unreachable' log line:\n%s", g.Log.String())
			}

			r.Start() // a fresh, empty Redis on the same address
			testutil.WaitFor(t, 10*time.Second, "service to recover", func() bool {
				res, _ := chat(t, g.URL, "b", chatBody(5, false, "hi"))
				return res.StatusCode == http.StatusOK && res.Header.Get(HeaderRemainingRequests) != ""
			})
			if got := metricValue(t, g.Reg, "bulwark_limit_store_up", map[string]string{"store": "redis"}); got != 1 {
				t.Errorf("bulwark_limit_store_up = %v after recovery, want 1", got)
			}
			if !strings.Contains(g.Log.String(), "limit store recovered") {
				t.Errorf("no 'limit store recovered' log line")
			}
			// Limits are enforced again.
			for range 2 {
				chat(t, g.URL, "b", chatBody(5, false, "hi"))
			}
			if res, b := chat(t, g.URL, "b", chatBody(5, false, "hi")); res.StatusCode != http.StatusTooManyRequests {
				t.Errorf("after recovery, 4th request: %d %s, want 429", res.StatusCode, b)
			}
		})
	}
}

// TestConcurrencyReleasedOnDisconnect: a client that goes away mid-stream
// gives its slot back.
func TestConcurrencyReleasedOnDisconnect(t *testing.T) {
	for _, storeKind := range []string{"memory", "redis"} {
		t.Run(storeKind, func(t *testing.T) {
			var cfg *config.LimitStore
			if storeKind == "redis" {
				cfg = redisConfig(startRedis(t).Addr, "closed")
			}
			up := newMockLLM(t)
			up.SetHold(make(chan struct{}))
			g := newGateway(t, limitRoute(config.Limit{Name: "inflight", Concurrency: 1}), cfg, up.URL)

			ctx, cancel := context.WithCancel(t.Context())
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(chatBody(5, true, "hi")))
			req.Header.Set("X-Test-Identity", "c")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bufio.NewReader(res.Body).ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			res2, b := chat(t, g.URL, "c", chatBody(5, false, "hi"))
			if res2.StatusCode != http.StatusTooManyRequests || errOf(t, b).Error.Code != "concurrency_limit_exceeded" {
				t.Fatalf("second request while the stream runs: %d %s, want 429 concurrency_limit_exceeded", res2.StatusCode, b)
			}
			if got := res2.Header.Get(HeaderPolicy); got != `"inflight";q=1;qu="concurrent-requests"` {
				t.Errorf("%s = %q", HeaderPolicy, got)
			}
			cancel()
			res.Body.Close()
			testutil.WaitFor(t, 5*time.Second, "the slot to be released", func() bool {
				res, _ := chat(t, g.URL, "c", chatBody(5, false, "hi"))
				return res.StatusCode == http.StatusOK
			})
		})
	}
}

// TestMaxOutputTokens: the route cap rewrites the request when the client
// asks for more or sets nothing, and leaves smaller requests alone.
func TestMaxOutputTokens(t *testing.T) {
	up := newMockLLM(t)
	up.Bodies = make(chan []byte, 1)
	route := limitRoute()
	route.MaxOutputTokens = 50
	g := newGateway(t, route, nil, up.URL)
	tests := []struct {
		name string
		max  int
		want int
	}{
		{"above the cap", 500, 50},
		{"absent", 0, 50},
		{"below the cap", 20, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, b := chat(t, g.URL, "a", chatBody(tt.max, false, "hi"))
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, b)
			}
			got, err := llm.Parse(llm.APIChat, <-up.Bodies)
			if err != nil {
				t.Fatal(err)
			}
			if got.MaxTokens != tt.want {
				t.Errorf("upstream max_tokens = %d, want %d", got.MaxTokens, tt.want)
			}
		})
	}
}

// TestBudget: a daily budget refuses with insufficient_quota once spent,
// and refuses models it has no price for.
func TestBudget(t *testing.T) {
	up := newMockLLM(t)
	up.PromptTokens = tokens.Prompt
	// Prices per million tokens = micro-units per token: a request of
	// prompt P and 100 output tokens costs P*1 + 100*2 micro-units.
	route := limitRoute(config.Limit{Name: "daily", Key: "tenant", Budget: 0.001, Prices: map[string]config.Price{
		"gpt-4o": {Input: 1, Output: 2}, "gpt-3*": {Input: 0.5, Output: 0.5},
	}})
	g := newGateway(t, route, nil, up.URL)
	var spent int64
	for i := 0; ; i++ {
		res, b := chat(t, g.URL, "a", chatBody(100, false, "hello budget"))
		if res.StatusCode == http.StatusTooManyRequests {
			if e := errOf(t, b); e.Error.Type != "insufficient_quota" || e.Error.Code != "insufficient_quota" {
				t.Errorf("refusal %+v, want insufficient_quota", e.Error)
			}
			if res.Header.Get("Retry-After") == "" {
				t.Errorf("budget refusal without Retry-After")
			}
			break
		}
		if res.StatusCode != http.StatusOK || i > 10 {
			t.Fatalf("request %d: %d %s", i, res.StatusCode, b)
		}
		u, _ := llm.UsageFromJSON(b)
		spent += u.PromptTokens + 2*u.CompletionTokens
	}
	if spent > 1000 || spent < 1000-300 {
		t.Errorf("spent %d micro-units of a 1000 budget before refusal", spent)
	}
	body := `{"model":"llama-3","messages":[{"role":"user","content":"hi"}]}`
	res, b := chat(t, g.URL, "a", body)
	if res.StatusCode != http.StatusForbidden || errOf(t, b).Error.Code != "model_not_priced" {
		t.Errorf("unpriced model: %d %s, want 403 model_not_priced", res.StatusCode, b)
	}
}

// TestOverrides: per-value quotas and exemptions.
func TestOverrides(t *testing.T) {
	up := newMockLLM(t)
	route := limitRoute(config.Limit{Name: "rpm", Requests: 1, Overrides: []config.LimitOverride{
		{Values: []string{"vip"}, Requests: 3},
		{Values: []string{"bot"}, Unlimited: true},
	}})
	g := newGateway(t, route, nil, up.URL)
	tests := []struct {
		identity string
		allowed  int
	}{
		{"plain", 1},
		{"vip", 3},
		{"bot", 8},
	}
	for _, tt := range tests {
		t.Run(tt.identity, func(t *testing.T) {
			got := 0
			for range 8 {
				if res, _ := chat(t, g.URL, tt.identity, chatBody(5, false, "hi")); res.StatusCode == http.StatusOK {
					got++
				}
			}
			if got != tt.allowed {
				t.Errorf("%s: allowed %d of 8, want %d", tt.identity, got, tt.allowed)
			}
		})
	}
}

// TestSuccessHeaders: allowed responses report the state after the
// reservation, replacing the upstream's own rate-limit headers.
func TestSuccessHeaders(t *testing.T) {
	up := newMockLLM(t)
	route := limitRoute(config.Limit{Name: "rpm", Requests: 10, Window: config.Duration(time.Minute)},
		config.Limit{Name: "tpm", Tokens: 10000, Window: config.Duration(time.Minute)})
	route.MaxOutputTokens = 100
	g := newGateway(t, route, nil, up.URL)
	res, b := chat(t, g.URL, "h", chatBody(100, false, "hi"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	req, _ := llm.Parse(llm.APIChat, []byte(chatBody(100, false, "hi")))
	reserved := tokens.Prompt(req, len(chatBody(100, false, "hi"))) + 100
	got := map[string]string{}
	for _, k := range []string{HeaderPolicy, HeaderLimitRequests, HeaderRemainingRequests, HeaderLimitTokens, HeaderRemainingTokens} {
		got[k] = res.Header.Get(k)
	}
	want := map[string]string{
		HeaderPolicy:            `"rpm";q=10;w=60, "tpm";q=10000;qu="tokens";w=60`,
		HeaderLimitRequests:     "10",
		HeaderRemainingRequests: "9",
		HeaderLimitTokens:       "10000",
		HeaderRemainingTokens:   itoa(10000 - reserved),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if got := res.Header.Get(HeaderResetRequests); got != "6s" {
		t.Errorf("%s = %q, want 6s (one request drains in 60s/10)", HeaderResetRequests, got)
	}
}

// TestRequestTooLarge: a request that could never fit is refused without
// a Retry-After that would only make the client wait in vain.
func TestRequestTooLarge(t *testing.T) {
	up := newMockLLM(t)
	g := newGateway(t, limitRoute(config.Limit{Name: "tpm", Tokens: 100}), nil, up.URL)
	res, b := chat(t, g.URL, "big", chatBody(500, false, "hi"))
	if res.StatusCode != http.StatusTooManyRequests || errOf(t, b).Error.Code != "request_too_large" {
		t.Fatalf("%d %s, want 429 request_too_large", res.StatusCode, b)
	}
	if ra := res.Header.Get("Retry-After"); ra != "" {
		t.Errorf("Retry-After = %q, want none", ra)
	}
}

// TestMemoryStoreSurvivesReload: pipelines rebuilt on reload share the
// process-wide memory store, so counters carry on.
func TestMemoryStoreSurvivesReload(t *testing.T) {
	s1, err := NewStore(t.Context(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := NewStore(t.Context(), &config.LimitStore{FailureMode: "closed"}, nil, nil)
	if s1 != s2 {
		t.Fatalf("NewStore returned distinct memory stores; counters would reset on reload")
	}
	_ = s1.Close() // retiring a pipeline must not drop the counters
	route := limitRoute(config.Limit{Name: "reload-rpm", Requests: 2})
	route.Name = "reload-test"
	up := newMockLLM(t)
	build := func() *pipeline.Pipeline {
		st, err := New(&route, s1, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		fwd := &testForwarder{upstream: up.URL, client: http.DefaultClient}
		return pipeline.New(pipeline.Options{Routes: []*pipeline.Route{{Name: route.Name, Prefix: "/v1/", MaxRequestBytes: 1 << 20,
			Stages: []pipeline.Stage{identityStage{}, st}, Upstream: fwd}}})
	}
	h := pipeline.NewHandler(build(), nil)
	srv := newServer(t, h)
	if res, _ := chat(t, srv, "r", chatBody(5, false, "hi")); res.StatusCode != http.StatusOK {
		t.Fatalf("first request: %d", res.StatusCode)
	}
	h.Swap(build())
	if res, _ := chat(t, srv, "r", chatBody(5, false, "hi")); res.StatusCode != http.StatusOK {
		t.Fatalf("second request: %d", res.StatusCode)
	}
	h.Swap(build())
	if res, _ := chat(t, srv, "r", chatBody(5, false, "hi")); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third request after two reloads: %d, want 429 (the counter must survive)", res.StatusCode)
	}
}

// TestKeys resolves every partition key kind.
func TestKeys(t *testing.T) {
	r, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	r.Header.Set("X-Team", "blue")
	rc := &pipeline.RequestContext{
		Request:  r,
		Route:    &pipeline.Route{Name: "openai"},
		LLM:      &llm.Request{Model: "gpt-4o"},
		Identity: pipeline.Identity{ID: "alice", Tenant: "acme", Claims: map[string]any{"org": "o-1", "tier": float64(2), "groups": []any{"a"}}},
	}
	tests := []struct {
		spec string
		want string
	}{
		{"identity", "alice"},
		{"tenant", "acme"},
		{"route", "openai"},
		{"model", "gpt-4o"},
		{"clientIP", ""},
		{"header:x-team", "blue"},
		{"header:X-Missing", ""},
		{"claim:org", "o-1"},
		{"claim:tier", "2"},
		{"claim:groups", `["a"]`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			kind, arg, ok := parseKey(tt.spec)
			if !ok {
				t.Fatalf("parseKey(%q) not ok", tt.spec)
			}
			if got := keyValue(kind, arg, rc); got != tt.want {
				t.Errorf("keyValue(%q) = %q, want %q", tt.spec, got, tt.want)
			}
		})
	}
	if hashTag(keyIdentity, "a}b{") == hashTag(keyTenant, "a}b{") || strings.ContainsAny(hashTag(keyIdentity, "a}b{"), "{}") {
		t.Errorf("hash tags must differ per key kind and never contain braces")
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func newServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
