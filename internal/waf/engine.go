// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/types"

	"github.com/bulwarkai/bulwark/internal/config"
)

// Rule ids of the engine's own rules (the 200xxx range, as in Coraza's
// recommended config), which answer 400 rather than 403.
const (
	ruleReqBodyError    = 200002
	ruleMultipartStrict = 200003
	ruleArgsLimitGet    = 200004
	ruleArgsLimitPost   = 200005
	ruleURIParseError   = 200009
)

// baseDirectives follow Coraza's coraza.conf-recommended (v3.8), minus the
// audit log (Bulwark has its own) and with limits that suit a gateway that
// already holds the body in memory: the body limit is far above any route's
// maxRequestBytes, so Coraza never truncates a body or spills it to disk,
// and a request with more than 4096 values in one ARGS collection is
// refused (rules 200004/200005) rather than inspected in part.
const baseDirectives = `
SecRxPreFilter Off
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" \
     "id:'200000',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" \
     "id:'200001',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" \
     "id:'200006',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule URI_PARSE_ERROR "@eq 1" \
    "id:'200009',phase:1,t:none,log,deny,status:400,msg:'URI failed to parse.'"
SecArgumentsLimit 4096
SecRequestBodyLimit 1073741824
SecRequestBodyInMemoryLimit 1073741824
SecRequestBodyLimitAction Reject
SecRule REQBODY_ERROR "!@eq 0" \
    "id:'200002', phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" \
    "id:'200003',phase:2,t:none,log,deny,status:400, \
    msg:'Multipart request body failed strict validation.'"
SecRule ARGUMENTS_LIMIT_REACHED "@eq 1" \
    "id:'200004',phase:1,t:none,log,deny,status:400,msg:'Argument limit reached (GET/PATH args)'"
SecRule ARGUMENTS_LIMIT_REACHED "@eq 1" \
    "id:'200005',phase:2,t:none,log,deny,status:400,msg:'Argument limit reached (POST args)'"
SecResponseBodyMimeType text/plain text/html text/xml application/json
SecResponseBodyLimitAction ProcessPartial
SecAuditEngine Off
Include @crs-setup.conf.example
SecDefaultAction "phase:3,log,auditlog,pass"
SecDefaultAction "phase:4,log,auditlog,pass"
SecDefaultAction "phase:5,log,noauditlog,pass"
`

// buildOptions are hooks for tests (the CRS regression suite needs a log
// of every matched rule and a marker rule). Engines built with hooks are
// never cached.
type buildOptions struct {
	// beforeCRS are directives placed after the setup, before the rules.
	beforeCRS string
	// errorLog receives every matched rule that logs.
	errorLog func(types.MatchedRule)
	// detectionOnly runs Coraza in DetectionOnly whatever the mode, so that
	// every phase runs even after a match would have blocked.
	detectionOnly bool
	// phase5 runs the logging phase, where CRS's reporting rules live.
	phase5 bool
}

// directives renders the full SecLang configuration for cfg.
func directives(cfg *config.WAF, opts buildOptions) (string, error) {
	var b strings.Builder
	engine := "On"
	if cfg.Mode == "detect" || opts.detectionOnly {
		engine = "DetectionOnly"
	}
	fmt.Fprintf(&b, "SecRuleEngine %s\n", engine)
	b.WriteString(baseDirectives)
	fmt.Fprintf(&b, "SecRequestBodyJsonDepthLimit %d\n", cfg.Limits.MaxDepth)
	if cfg.InspectResponses {
		fmt.Fprintf(&b, "SecResponseBodyAccess On\nSecResponseBodyLimit %d\n", cfg.ResponseBodyLimit)
	} else {
		b.WriteString("SecResponseBodyAccess Off\n")
	}
	// CRS setup: detection and blocking at the same paranoia level, so
	// that every rule that runs can block.
	fmt.Fprintf(&b, `SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d,setvar:tx.detection_paranoia_level=%d"`+"\n",
		cfg.ParanoiaLevel, cfg.ParanoiaLevel)
	fmt.Fprintf(&b, `SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=%d"`+"\n",
		cfg.InboundAnomalyThreshold, cfg.OutboundAnomalyThreshold)
	if !cfg.InspectResponses {
		// CRS's own switch: its response rules then skip at once.
		b.WriteString(`SecAction "id:900500,phase:1,pass,t:none,nolog,setvar:tx.crs_skip_response_analysis=1"` + "\n")
	}
	b.WriteString(opts.beforeCRS)
	b.WriteString("\nInclude @owasp_crs/*.conf\n")
	for _, x := range cfg.Exclusions {
		writeExclusion(&b, x)
	}
	if cfg.RulesFile != "" {
		data, err := os.ReadFile(cfg.RulesFile)
		if err != nil {
			return "", fmt.Errorf("reading waf rulesFile: %w", err)
		}
		b.WriteString("\n# rulesFile " + strconv.Quote(cfg.RulesFile) + "\n")
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// writeExclusion turns one configured exclusion into configure-time
// directives. Config validation has already refused anything that could
// break out of a directive (quotes, spaces, newlines).
func writeExclusion(b *strings.Builder, x config.WAFExclusion) {
	if len(x.Targets) == 0 {
		for _, id := range x.IDs {
			fmt.Fprintf(b, "SecRuleRemoveById %s\n", strings.ReplaceAll(string(id), " ", ""))
		}
		for _, t := range x.Tags {
			fmt.Fprintf(b, "SecRuleRemoveByTag %q\n", t)
		}
		return
	}
	targets := make([]string, len(x.Targets))
	for i, t := range x.Targets {
		targets[i] = "!" + strings.TrimPrefix(t, "!")
	}
	vars := strings.Join(targets, "|")
	// One directive per id: Coraza applies only the first id of a list.
	for _, id := range x.IDs {
		fmt.Fprintf(b, "SecRuleUpdateTargetById %s \"%s\"\n", strings.ReplaceAll(string(id), " ", ""), vars)
	}
	for _, t := range x.Tags {
		fmt.Fprintf(b, "SecRuleUpdateTargetByTag %q \"%s\"\n", t, vars)
	}
}

// engine is one compiled Coraza WAF, shared by every stage whose config
// renders the same directives.
type engine struct {
	waf  coraza.WAF
	opts experimental.WAFWithOptions
	key  [sha256.Size]byte
	refs int // guarded by engines.mu
	// ready is closed once waf (or err) is set.
	ready chan struct{}
	err   error
}

// engines caches compiled WAFs across reloads: compiling CRS takes about a
// second of CPU, and a reload that leaves a route's WAF config alone should
// cost nothing. An engine is closed when its last stage is.
var engines = struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*engine
}{m: map[[sha256.Size]byte]*engine{}}

// acquireEngine returns the engine for these directives, compiling it if
// no live stage holds one.
func acquireEngine(dirs string, opts buildOptions) (*engine, error) {
	if opts.errorLog != nil {
		e := &engine{ready: make(chan struct{})}
		e.build(dirs, opts)
		return e, e.err
	}
	key := sha256.Sum256([]byte(dirs))
	engines.mu.Lock()
	e, ok := engines.m[key]
	if ok {
		e.refs++
		engines.mu.Unlock()
		<-e.ready
		if e.err != nil {
			releaseEngine(e)
			return nil, e.err
		}
		return e, nil
	}
	e = &engine{key: key, refs: 1, ready: make(chan struct{})}
	engines.m[key] = e
	engines.mu.Unlock()
	e.build(dirs, opts)
	if e.err != nil {
		releaseEngine(e)
		return nil, e.err
	}
	return e, nil
}

func (e *engine) build(dirs string, opts buildOptions) {
	defer close(e.ready)
	cfg := coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(dirs)
	if opts.errorLog != nil {
		cfg = cfg.WithErrorCallback(opts.errorLog)
	}
	w, err := coraza.NewWAF(cfg)
	if err != nil {
		e.err = fmt.Errorf("compiling waf rules: %w", err)
		return
	}
	wo, ok := w.(experimental.WAFWithOptions)
	if !ok {
		e.err = fmt.Errorf("compiling waf rules: coraza WAF %T cannot take transaction options", w)
		return
	}
	e.waf, e.opts = w, wo
}

// releaseEngine drops one reference; the last one closes the WAF.
func releaseEngine(e *engine) {
	if e.key == ([sha256.Size]byte{}) { // uncached (test hooks)
		closeWAF(e.waf)
		return
	}
	engines.mu.Lock()
	e.refs--
	last := e.refs == 0
	if last && engines.m[e.key] == e {
		delete(engines.m, e.key)
	}
	engines.mu.Unlock()
	if last {
		closeWAF(e.waf)
	}
}

func closeWAF(w coraza.WAF) {
	if c, ok := w.(experimental.WAFCloser); ok {
		_ = c.Close()
	}
}
