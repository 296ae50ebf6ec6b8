// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkai/bulwark/internal/testutil"
)

// TestWAFAndLimitsFromConfig proves the WAF and limits stages are wired in
// from the policy file, in order, through the real server.
func TestWAFAndLimitsFromConfig(t *testing.T) {
	_, up := startDemoUpstream(t)
	cfg := strings.Replace(baseConfig(up.URL, ""), "    maxRequestBytes: 4096\n", `    maxRequestBytes: 4096
    waf: {mode: block, paranoiaLevel: 1}
    maxOutputTokens: 64
    limits:
      - {name: rpm, key: identity, requests: 4, window: 1m}
`, 1)
	g := testutil.StartGateway(t, cfg)
	audit := filepath.Join(filepath.Dir(g.ConfigPath), "audit.jsonl")
	chat := g.URL + "/v1/chat/completions"

	// An honest prompt about SQL passes the AI-aware WAF.
	res, body := do(t, "POST", chat, aliceKey, `{"model":"m","messages":[{"role":"user","content":"Why does SELECT * FROM users WHERE name = '' OR 1=1 -- return every row?"}]}`)
	if res.StatusCode != 200 {
		t.Fatalf("benign SQL question: %d %s", res.StatusCode, body)
	}
	// SQL injection in the query string is blocked.
	res, body = do(t, "POST", chat+"?id="+url.QueryEscape("1' UNION SELECT password FROM users--"), aliceKey, chatBody)
	if res.StatusCode != 403 {
		t.Fatalf("sqli in query: %d %s", res.StatusCode, body)
	}
	if strings.Contains(string(body), "942") {
		t.Errorf("403 body leaks rule ids: %s", body)
	}
	// The request limit (4/min) counts the blocked request too.
	for range 2 {
		if res, body := do(t, "POST", chat, aliceKey, chatBody); res.StatusCode != 200 {
			t.Fatalf("within limit: %d %s", res.StatusCode, body)
		}
	}
	res, body = do(t, "POST", chat, aliceKey, chatBody)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "rate_limit_exceeded") {
		t.Fatalf("over limit: %d %v %s", res.StatusCode, res.Header, body)
	}
	// Another identity has its own counter.
	if res, body := do(t, "POST", chat, bobKey, strings.Replace(chatBody, "big-model", "small-1", 1)); res.StatusCode != 200 {
		t.Fatalf("bob: %d %s", res.StatusCode, body)
	}

	var stages []string
	testutil.WaitFor(t, 5*time.Second, "audit lines", func() bool {
		stages = stages[:0]
		for _, l := range testutil.AuditLines(t, audit) {
			if d, ok := l["decision"].(map[string]any); ok && d["outcome"] == "deny" {
				stages = append(stages, d["stage"].(string)+"/"+d["rule"].(string))
			}
		}
		return len(stages) == 2
	})
	if !strings.HasPrefix(stages[0], "waf/") || stages[1] != "limits/rpm" {
		t.Errorf("denials = %q, want a waf rule then limits/rpm", stages)
	}
}
