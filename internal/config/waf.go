// SPDX-License-Identifier: Apache-2.0

package config

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// WAF configures OWASP CRS inspection through Coraza for one route, plus the
// AI-specific checks that sit beside it (strict JSON, structural limits,
// SSRF in media URLs). docs/waf.md explains each knob with figures.
type WAF struct {
	// Mode is block (default), detect (log and count, never block: for a
	// staged rollout) or off.
	Mode string `json:"mode,omitempty"`
	// ParanoiaLevel is the CRS paranoia level, 1 (default) to 4. Each level
	// adds rules that catch more and misfire more.
	ParanoiaLevel int `json:"paranoiaLevel,omitempty"`
	// InspectPrompts also sends prompt text (message contents, prompt,
	// input, instructions, tool results) through CRS. Off by default: CRS
	// was written for web forms and blocks honest prompts that quote SQL,
	// shell or HTML, and its regexes over prompt text are most of its cost.
	// Prompt text is the guardrails' job.
	InspectPrompts bool `json:"inspectPrompts,omitempty"`
	// InboundAnomalyThreshold is the CRS inbound anomaly score at which a
	// request is blocked. Default 5: one critical match blocks.
	InboundAnomalyThreshold int `json:"inboundAnomalyThreshold,omitempty"`
	// OutboundAnomalyThreshold is the same for responses, used only when
	// InspectResponses is on. Default 4: one error-level match blocks.
	OutboundAnomalyThreshold int `json:"outboundAnomalyThreshold,omitempty"`
	// Exclusions switch off CRS rules, or some of their targets, where they
	// misfire for this route. Applied after CRS is loaded.
	Exclusions []WAFExclusion `json:"exclusions,omitempty"`
	// RulesFile is a SecLang file loaded after CRS: custom rules and
	// configure-time exclusions (SecRuleRemoveById, SecRuleUpdateTargetById,
	// ...). Re-read on reload. Rules must use ids outside CRS's 9xxxxx range.
	RulesFile string `json:"rulesFile,omitempty"`
	// InspectResponses runs the CRS response rules (data leakage, web
	// shells) on upstream responses. Off by default: LLM output routinely
	// contains code and error text, and blocking after the upstream has
	// answered costs the tokens anyway. Streaming responses have their
	// headers inspected only.
	InspectResponses bool `json:"inspectResponses,omitempty"`
	// ResponseBodyLimit is how many response bytes are buffered and
	// inspected when InspectResponses is on; the rest passes uninspected.
	// Default 512 KiB.
	ResponseBodyLimit int64 `json:"responseBodyLimit,omitempty"`
	// Limits bound the structure of LLM request bodies. Strict JSON
	// (duplicate keys, invalid UTF-8) is always enforced when the WAF is on.
	Limits WAFLimits `json:"limits,omitzero"`
	// SSRF configures the check of URLs in image, file and audio parts.
	SSRF WAFSSRF `json:"ssrf,omitzero"`
	// VerdictCache remembers CRS outcomes of LLM requests across requests
	// (see docs/waf.md). On by default; off when RulesFile or
	// InspectResponses is set.
	VerdictCache WAFVerdictCache `json:"verdictCache,omitzero"`
}

// WAFVerdictCache configures the CRS verdict cache. In AI-aware mode CRS
// sees the URL, headers and the non-prompt JSON fields, which repeat from
// request to request; the outcome of the same input is the same, so it is
// computed once.
type WAFVerdictCache struct {
	// Disabled turns the cache off: every request runs through Coraza.
	Disabled bool `json:"disabled,omitempty"`
	// MaxEntries bounds the cache (about 200 bytes per entry). Default
	// 10000. When full, an arbitrary entry makes room.
	MaxEntries int `json:"maxEntries,omitempty"`
}

// WAFExclusion selects CRS rules by id or tag and removes them, or, when
// Targets is set, removes only those targets from them.
type WAFExclusion struct {
	// IDs are rule ids (942100) or inclusive ranges ("942100-942199").
	IDs []WAFRuleID `json:"ids,omitempty"`
	// Tags select rules by tag, e.g. "attack-sqli" or "paranoia-level/2".
	Tags []string `json:"tags,omitempty"`
	// Targets narrow the exclusion to these variables, e.g.
	// "ARGS:json.metadata.sql", "REQUEST_COOKIES:session",
	// "REQUEST_HEADERS:User-Agent". Empty removes the selected rules whole.
	Targets []string `json:"targets,omitempty"`
	// Reason is a note for humans; it is not used.
	Reason string `json:"reason,omitempty"`
}

// WAFRuleID is a rule id or an inclusive range "first-last". It is written
// either as a YAML number or as a string.
type WAFRuleID string

// UnmarshalJSON accepts 942100 as well as "942100" and "942100-942199".
func (r *WAFRuleID) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*r = WAFRuleID(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("rule id must be a number or a range such as \"942100-942199\", got %s", b)
	}
	*r = WAFRuleID(s)
	return nil
}

// Range returns the first and last id of r.
func (r WAFRuleID) Range() (first, last int, err error) {
	lo, hi, isRange := strings.Cut(string(r), "-")
	if first, err = strconv.Atoi(strings.TrimSpace(lo)); err != nil || first <= 0 {
		return 0, 0, fmt.Errorf("%q is not a rule id", string(r))
	}
	last = first
	if isRange {
		if last, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || last < first {
			return 0, 0, fmt.Errorf("%q is not a range first-last", string(r))
		}
	}
	return first, last, nil
}

// WAFLimits bound the structure of LLM request bodies (400 beyond them).
// Zero values take the defaults.
type WAFLimits struct {
	// MaxMessages caps chat messages or Responses input items. Default
	// 2048: long agent sessions run to hundreds of turns.
	MaxMessages int `json:"maxMessages,omitempty"`
	// MaxParts caps content parts summed over all messages. Default 4096.
	MaxParts int `json:"maxParts,omitempty"`
	// MaxDepth caps JSON nesting. Default 64: tool schemas nest, but
	// nothing honest nests deeper.
	MaxDepth int `json:"maxDepth,omitempty"`
}

// WAFSSRF configures the check of media URLs (image_url, file, audio parts)
// that the upstream would fetch. Literal private, loopback, link-local and
// metadata addresses (in any spelling) and well-known internal names are
// always refused.
type WAFSSRF struct {
	// ResolveHostnames also resolves each media hostname with the request's
	// context and refuses it if any address is private. Off by default:
	// the upstream resolves again later (DNS rebinding), so this is a second
	// line behind egress control on the model server, and it adds a DNS
	// round trip to requests with images.
	ResolveHostnames bool `json:"resolveHostnames,omitempty"`
	// ResolveTimeout bounds one resolution. Default 2s.
	ResolveTimeout Duration `json:"resolveTimeout,omitempty"`
	// UnsafeAllowHosts exempts hostnames (exact, case-insensitive) or CIDRs,
	// e.g. an internal image store. Everything listed becomes reachable
	// through the model server.
	UnsafeAllowHosts []string `json:"unsafeAllowHosts,omitempty"`
}

// WAF defaults, in one place.
const (
	// One critical CRS match (score 5) blocks: the CRS default.
	defaultWAFInboundThreshold = 5
	// One error-level response match (score 4) blocks: the CRS default.
	defaultWAFOutboundThreshold = 4
	// Coraza's recommended response buffer.
	defaultWAFResponseBodyLimit = 512 << 10
	defaultWAFMaxMessages       = 2048
	defaultWAFMaxParts          = 4096
	defaultWAFMaxDepth          = 64
	defaultWAFResolveTimeout    = 2 * time.Second
	defaultWAFVerdictEntries    = 10000
)

func (w *WAF) applyDefaults() {
	if w.Mode == "" {
		w.Mode = "block"
	}
	if w.ParanoiaLevel == 0 {
		w.ParanoiaLevel = 1
	}
	if w.InboundAnomalyThreshold == 0 {
		w.InboundAnomalyThreshold = defaultWAFInboundThreshold
	}
	if w.OutboundAnomalyThreshold == 0 {
		w.OutboundAnomalyThreshold = defaultWAFOutboundThreshold
	}
	if w.ResponseBodyLimit == 0 {
		w.ResponseBodyLimit = defaultWAFResponseBodyLimit
	}
	if w.Limits.MaxMessages == 0 {
		w.Limits.MaxMessages = defaultWAFMaxMessages
	}
	if w.Limits.MaxParts == 0 {
		w.Limits.MaxParts = defaultWAFMaxParts
	}
	if w.Limits.MaxDepth == 0 {
		w.Limits.MaxDepth = defaultWAFMaxDepth
	}
	setDur(&w.SSRF.ResolveTimeout, defaultWAFResolveTimeout)
	if w.VerdictCache.MaxEntries == 0 {
		w.VerdictCache.MaxEntries = defaultWAFVerdictEntries
	}
}

// ApplyDefaults fills unset fields, for callers that build a WAF config in
// code rather than through Parse.
func (w *WAF) ApplyDefaults() { w.applyDefaults() }

// Validate checks a WAF config on its own, reporting every problem.
func (w *WAF) Validate() error {
	var e errs
	w.validate(&e, "waf")
	if len(e) == 0 {
		return nil
	}
	return &ValidationError{Problems: e}
}

var (
	// wafTargetRE admits a SecLang variable with an optional key: nothing
	// that could close the directive's quotes or start a new line.
	wafTargetRE = regexp.MustCompile(`^!?[A-Z_]+(:[^\s"'\\|,]+)?$`)
	wafTagRE    = regexp.MustCompile(`^[^\s"'\\]+$`)
)

func (w *WAF) validate(e *errs, path string) {
	if !oneOf(w.Mode, "block", "detect", "off") {
		e.add(path+".mode", "%q is not one of block|detect|off", w.Mode)
	}
	if w.ParanoiaLevel < 1 || w.ParanoiaLevel > 4 {
		e.add(path+".paranoiaLevel", "%d must be 1-4", w.ParanoiaLevel)
	}
	if w.InboundAnomalyThreshold < 1 {
		e.add(path+".inboundAnomalyThreshold", "%d must be at least 1 (5 = one critical match)", w.InboundAnomalyThreshold)
	}
	if w.OutboundAnomalyThreshold < 1 {
		e.add(path+".outboundAnomalyThreshold", "%d must be at least 1 (4 = one error match)", w.OutboundAnomalyThreshold)
	}
	if w.ResponseBodyLimit < 1 || w.ResponseBodyLimit > 64<<20 {
		e.add(path+".responseBodyLimit", "%d must be between 1 and 64 MiB", w.ResponseBodyLimit)
	}
	for i, x := range w.Exclusions {
		p := fmt.Sprintf("%s.exclusions[%d]", path, i)
		if len(x.IDs) == 0 && len(x.Tags) == 0 {
			e.add(p, "select rules with ids or tags")
		}
		for j, id := range x.IDs {
			if _, _, err := id.Range(); err != nil {
				e.add(fmt.Sprintf("%s.ids[%d]", p, j), "%v (want e.g. 942100 or \"942100-942199\")", err)
			}
		}
		for j, t := range x.Tags {
			if !wafTagRE.MatchString(t) {
				e.add(fmt.Sprintf("%s.tags[%d]", p, j), "%q must be a tag without spaces or quotes, e.g. attack-sqli", t)
			}
		}
		for j, t := range x.Targets {
			if !wafTargetRE.MatchString(t) {
				e.add(fmt.Sprintf("%s.targets[%d]", p, j), "%q must be a variable such as ARGS:json.metadata or REQUEST_HEADERS:User-Agent", t)
			}
		}
	}
	if strings.ContainsAny(w.RulesFile, "\"\n") {
		e.add(path+".rulesFile", "%q must be a plain file path", w.RulesFile)
	}
	l := w.Limits
	if l.MaxMessages < 1 {
		e.add(path+".limits.maxMessages", "%d must be at least 1", l.MaxMessages)
	}
	if l.MaxParts < 1 {
		e.add(path+".limits.maxParts", "%d must be at least 1", l.MaxParts)
	}
	if l.MaxDepth < 2 || l.MaxDepth > 1024 {
		e.add(path+".limits.maxDepth", "%d must be 2-1024", l.MaxDepth)
	}
	if n := w.VerdictCache.MaxEntries; n < 1 || n > 10_000_000 {
		e.add(path+".verdictCache.maxEntries", "%d must be between 1 and 10000000", n)
	}
	if w.SSRF.ResolveTimeout < 0 {
		e.add(path+".ssrf.resolveTimeout", "must be positive")
	}
	for i, h := range w.SSRF.UnsafeAllowHosts {
		p := fmt.Sprintf("%s.ssrf.unsafeAllowHosts[%d]", path, i)
		if strings.Contains(h, "/") {
			if _, err := netip.ParsePrefix(h); err != nil {
				e.add(p, "%q is not a CIDR (e.g. 10.20.0.0/16)", h)
			}
		} else if h == "" || strings.ContainsAny(h, " :@") {
			e.add(p, "%q must be a hostname or a CIDR", h)
		}
	}
}
