// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// StageName is the stage's name in decisions, audit lines and metrics.
const StageName = "waf"

// Decision rules, as they appear in the decision line and the denial
// metric (bounded: the CRS rule ids go in the audit section instead).
const (
	RuleCRS    = "crs"
	RuleStrict = "strict_json"
	RuleLimits = "limits"
	RuleSSRF   = "ssrf"
	// RuleBody is a request Coraza could not parse (passthrough bodies).
	RuleBody = "invalid_body"
)

// Inspection modes, as recorded in the audit section.
const (
	InspectAIAware = "ai-aware" // LLM body, prompt text left to the guardrails
	InspectFull    = "full"     // LLM body, prompt text included (inspectPrompts)
	InspectRaw     = "raw"      // any other body, by Content-Type as CRS does
)

// Audit is the stage's section of the audit line.
type Audit struct {
	// Mode is block or detect.
	Mode string `json:"mode"`
	// Action is allow, block or detect (would have blocked).
	Action string `json:"action"`
	// Inspection is ai-aware, full or raw.
	Inspection string `json:"inspection"`
	// Score is CRS's inbound anomaly score at the blocking paranoia level.
	Score int `json:"anomaly_score"`
	// Rules are the CRS rule ids that matched (and log), in match order.
	Rules []int `json:"rules,omitempty"`
	// Checks are the AI checks that fired: a strictness kind
	// (duplicate_key, max_messages, ...) or ssrf:<reason>.
	Checks []string `json:"checks,omitempty"`
	// ResponseScore and ResponseRules are set when responses are
	// inspected and a response rule matched.
	ResponseScore int   `json:"response_anomaly_score,omitempty"`
	ResponseRules []int `json:"response_rules,omitempty"`
	// Cached is set when the CRS outcome came from the verdict cache (an
	// identical input was evaluated before).
	Cached bool `json:"cached,omitempty"`
}

// Stage is the WAF stage of one route. It is safe for concurrent use.
type Stage struct {
	cfg     config.WAF
	eng     *engine // nil when mode is off
	limits  llm.StrictLimits
	ssrf    *ssrfChecker
	cache   *verdictCache // nil when off
	logger  *slog.Logger
	metrics *metrics
	// phase5 runs CRS's logging phase (its 980xxx reporting rules). Off in
	// production: those rules only write CRS's own log, and the audit line
	// carries the same facts. The regression suite turns it on.
	phase5 bool

	// pending holds the open transaction of each request whose response
	// will be inspected, keyed by its RequestContext until Finish.
	pending   sync.Map
	closeOnce sync.Once
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
	_ pipeline.Finisher      = (*Stage)(nil)
	_ pipeline.Closer        = (*Stage)(nil)
)

// New builds the stage for one route. cfg is copied; unset fields take
// their defaults. Compiling CRS takes a moment the first time a config is
// seen; stages with the same config (other routes, or the same route after
// a reload) share the compiled rules. reg may be nil.
func New(cfg *config.WAF, logger *slog.Logger, reg prometheus.Registerer) (*Stage, error) {
	return newStage(cfg, logger, reg, buildOptions{})
}

func newStage(cfg *config.WAF, logger *slog.Logger, reg prometheus.Registerer, opts buildOptions) (*Stage, error) {
	if cfg == nil {
		cfg = &config.WAF{}
	}
	c := *cfg
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Stage{
		cfg:     c,
		limits:  llm.StrictLimits{MaxDepth: c.Limits.MaxDepth, MaxMessages: c.Limits.MaxMessages, MaxParts: c.Limits.MaxParts},
		ssrf:    newSSRFChecker(c.SSRF),
		logger:  logger,
		metrics: newMetrics(reg),
		phase5:  opts.phase5,
	}
	if c.Mode == "off" {
		return s, nil
	}
	dirs, err := directives(&c, opts)
	if err != nil {
		return nil, err
	}
	if s.eng, err = acquireEngine(dirs, opts); err != nil {
		return nil, err
	}
	if !c.VerdictCache.Disabled && c.RulesFile == "" && !c.InspectResponses && opts.errorLog == nil {
		s.cache = newVerdictCache(c.VerdictCache.MaxEntries)
	}
	return s, nil
}

// Name implements pipeline.Stage.
func (s *Stage) Name() string { return StageName }

// Close releases the compiled rules (when no other stage shares them).
// It is safe to call more than once.
func (s *Stage) Close() error {
	s.closeOnce.Do(func() {
		if s.eng != nil {
			releaseEngine(s.eng)
		}
	})
	return nil
}

func (s *Stage) detect() bool { return s.cfg.Mode == "detect" }

// OnRequest runs the AI checks, then CRS. In block mode the first
// violation ends the request; in detect mode every violation is recorded
// with rc.Detect and the request goes on.
func (s *Stage) OnRequest(ctx context.Context, rc *pipeline.RequestContext) (*pipeline.Decision, error) {
	if s.eng == nil {
		return nil, nil
	}
	a := &Audit{Mode: s.cfg.Mode, Action: "allow", Inspection: InspectRaw}
	if rc.LLM != nil {
		a.Inspection = InspectAIAware
		if s.cfg.InspectPrompts {
			a.Inspection = InspectFull
		}
	}
	rc.SetAudit(StageName, a)
	route := routeName(rc)

	if rc.API.HasBody() && len(rc.Body) > 0 {
		if err := llm.CheckStrict(rc.Body, s.limits); err != nil {
			d, kind := strictDecision(err)
			a.Checks = append(a.Checks, string(kind))
			s.match(route, "bulwark:"+string(kind))
			if d = s.violation(rc, a, route, d); d != nil {
				return d, nil
			}
		}
	}
	if rc.LLM != nil && len(rc.LLM.Media) > 0 {
		if d := s.checkMedia(ctx, rc, a, route); d != nil {
			if d = s.violation(rc, a, route, d); d != nil {
				return d, nil
			}
		}
	}
	d, err := s.crs(ctx, rc, a, route)
	if err != nil {
		s.metrics.requests.WithLabelValues(route, s.cfg.Mode, "error").Inc()
		return nil, err
	}
	if d != nil {
		if d = s.violation(rc, a, route, d); d != nil {
			return d, nil
		}
	}
	s.metrics.requests.WithLabelValues(route, s.cfg.Mode, a.Action).Inc()
	return nil, nil
}

// violation records d. In block mode it returns d to stop the request; in
// detect mode it records d as a detection and returns nil.
func (s *Stage) violation(rc *pipeline.RequestContext, a *Audit, route string, d *pipeline.Decision) *pipeline.Decision {
	d.Stage = StageName
	if s.detect() {
		a.Action = "detect"
		rc.Detect(d)
		return nil
	}
	a.Action = "block"
	s.metrics.requests.WithLabelValues(route, s.cfg.Mode, a.Action).Inc()
	return d
}

func (s *Stage) match(route, rule string) {
	s.metrics.matches.WithLabelValues(route, rule, s.cfg.Mode).Inc()
}

func strictDecision(err error) (*pipeline.Decision, llm.StrictKind) {
	rule, kind, detail := RuleStrict, llm.StrictSyntax, err.Error()
	var se *llm.StrictError
	if errors.As(err, &se) {
		kind, detail = se.Kind, se.Detail
		switch kind {
		case llm.StrictDepth, llm.StrictMessages, llm.StrictParts:
			rule = RuleLimits
		}
	}
	return &pipeline.Decision{
		Status: http.StatusBadRequest, Type: pipeline.TypeInvalidRequest, Code: "invalid_body",
		Message: "Invalid request body: " + detail + ".",
		Rule:    rule, Reason: err.Error(),
	}, kind
}

// checkMedia applies the SSRF check to every media URL of the request.
func (s *Stage) checkMedia(ctx context.Context, rc *pipeline.RequestContext, a *Audit, route string) *pipeline.Decision {
	field, reason := "", ""
	if len(rc.LLM.Media) > maxMediaURLs {
		reason = ssrfTooManyURLs
	} else {
		for _, m := range rc.LLM.Media {
			if r := s.ssrf.check(ctx, m.URL); r != "" {
				field, reason = m.Field, r
				break
			}
		}
	}
	if reason == "" {
		return nil
	}
	a.Checks = append(a.Checks, "ssrf:"+reason)
	s.match(route, "bulwark:ssrf")
	// The URL itself stays out of the log: signed URLs carry credentials.
	return &pipeline.Decision{
		Status: http.StatusForbidden, Type: pipeline.TypePermission, Code: "request_blocked",
		Message: "A media URL in the request points to a destination the gateway does not allow.",
		Rule:    RuleSSRF, Reason: "ssrf " + reason + " at " + field,
	}
}

// blocked is the client-facing refusal of a CRS block: no rule details.
func blocked() *pipeline.Decision {
	return &pipeline.Decision{
		Status: http.StatusForbidden, Type: pipeline.TypePermission, Code: "request_blocked",
		Message: "The request was blocked by the gateway's security policy.",
		Rule:    RuleCRS,
	}
}

// detectionOnly is implemented by Coraza's transaction: the interruption a
// DetectionOnly engine would have made.
type detectionOnly interface {
	DetectionOnlyInterruption() *types.Interruption
}

type logFlag interface{ Log() bool }

// crs runs the request through Coraza, or answers from the verdict cache.
func (s *Stage) crs(ctx context.Context, rc *pipeline.RequestContext, a *Audit, route string) (*pipeline.Decision, error) {
	var key [sha256.Size]byte
	cached := s.cache != nil && rc.LLM != nil
	if cached {
		w := keyWriters.Get().(*keyWriter)
		w.b = w.b[:0]
		s.feedHeaders(w, rc)
		_, _, werr := walkJSON(rc.Body, rc.API, s.cfg.InspectPrompts, w)
		key = w.sum()
		if cap(w.b) <= 64<<10 {
			keyWriters.Put(w)
		}
		if werr != nil {
			cached = false // the walk fails again below, with the error
		} else if v, ok := s.cache.get(key); ok {
			s.metrics.verdicts.WithLabelValues(route, "hit").Inc()
			a.Cached = true
			return s.apply(v, a, route), nil
		}
	}

	tx := s.eng.opts.NewTransactionWithOptions(experimental.Options{Context: ctx, ID: rc.ID})
	keep := false
	defer func() {
		if !keep {
			s.closeTx(tx)
		}
	}()
	s.feedHeaders(tx, rc)
	it := tx.ProcessRequestHeaders()
	var err error
	if it == nil {
		switch {
		case rc.LLM != nil:
			// Our own walk instead of Coraza's JSON body processor: the
			// same ARGS, minus the prompt text in AI-aware mode.
			if _, _, werr := walkJSON(rc.Body, rc.API, s.cfg.InspectPrompts, tx); werr != nil {
				return nil, fmt.Errorf("waf: walking %s body: %w", rc.API, werr)
			}
		case len(rc.Body) > 0:
			if it, _, err = tx.WriteRequestBody(rc.Body); err != nil {
				return nil, fmt.Errorf("waf: buffering request body: %w", err)
			}
		}
	}
	if it == nil {
		if it, err = tx.ProcessRequestBody(); err != nil {
			return nil, fmt.Errorf("waf: processing request body: %w", err)
		}
	}
	if it == nil && s.cfg.InspectResponses {
		// Not interrupted (in detect mode, never): the response phases
		// run on this transaction later.
		keep = true
		s.pending.Store(rc, tx)
	}
	if it == nil {
		if do, ok := tx.(detectionOnly); ok {
			it = do.DetectionOnlyInterruption()
		}
	}
	v := &verdict{score: anomalyScore(tx, "blocking_inbound_anomaly_score"), rules: loggedRules(tx, nil)}
	if it != nil {
		c := *it // the cache outlives the transaction
		v.it = &c
	}
	if cached {
		s.metrics.verdicts.WithLabelValues(route, "miss").Inc()
		s.cache.put(key, v)
	}
	return s.apply(v, a, route), nil
}

// apply records a verdict in the audit section and the metrics, and turns
// it into the client's answer.
func (s *Stage) apply(v *verdict, a *Audit, route string) *pipeline.Decision {
	a.Score = v.score
	a.Rules = append(a.Rules[:0], v.rules...)
	for _, id := range v.rules {
		s.match(route, strconv.Itoa(id))
	}
	if v.it == nil {
		return nil
	}
	return s.interruption(v.it, a)
}

// feedHeaders gives CRS the connection, the request line and the headers,
// in a fixed order (header names sorted), to a transaction or to the
// verdict cache's key.
func (s *Stage) feedHeaders(in txInput, rc *pipeline.RequestContext) {
	r := rc.Request
	client, port := "", 0
	if rc.ClientIP.IsValid() {
		client = rc.ClientIP.String()
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		port = int(ap.Port())
	}
	in.ProcessConnection(client, port, "", 0)
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	in.ProcessURI(uri, r.Method, r.Proto)
	var names [32]string
	keys := names[:0]
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			in.AddRequestHeader(k, v)
		}
	}
	// net/http moves Host and Transfer-Encoding out of the header map;
	// CRS has rules on both.
	if r.Host != "" {
		in.AddRequestHeader("Host", r.Host)
		in.SetServerName(hostOnly(r.Host))
	}
	for _, te := range r.TransferEncoding {
		in.AddRequestHeader("Transfer-Encoding", te)
	}
	// An LLM body without Content-Type (curl without -H, some scripts)
	// has already been proven strict JSON of a known API; without this CRS
	// 920340 ("content but no Content-Type") blocks such honest requests.
	if rc.LLM != nil && len(r.Header.Values("Content-Type")) == 0 {
		in.AddRequestHeader("Content-Type", "application/json")
	}
}

// interruption turns a Coraza interruption into the client's answer:
// 400 for requests Coraza could not parse, 403 for everything else.
func (s *Stage) interruption(it *types.Interruption, a *Audit) *pipeline.Decision {
	d := blocked()
	switch it.RuleID {
	case ruleReqBodyError, ruleMultipartStrict:
		d = &pipeline.Decision{Status: http.StatusBadRequest, Type: pipeline.TypeInvalidRequest, Code: "invalid_body",
			Message: "Invalid request body.", Rule: RuleBody}
	case ruleURIParseError:
		d = &pipeline.Decision{Status: http.StatusBadRequest, Type: pipeline.TypeInvalidRequest, Code: "invalid_uri",
			Message: "Invalid request URI.", Rule: RuleBody}
	case ruleArgsLimitGet, ruleArgsLimitPost:
		d = &pipeline.Decision{Status: http.StatusBadRequest, Type: pipeline.TypeInvalidRequest, Code: "too_many_parameters",
			Message: "The request has too many parameters.", Rule: RuleLimits}
	}
	d.Reason = fmt.Sprintf("crs rule %d (%s), inbound anomaly score %d, rules %v", it.RuleID, it.Action, a.Score, a.Rules)
	return d
}

// loggedRules appends the ids of the matched rules that log: the attack
// and protocol rules, not CRS's bookkeeping.
func loggedRules(tx types.Transaction, ids []int) []int {
	for _, mr := range tx.MatchedRules() {
		if l, ok := mr.(logFlag); ok && !l.Log() {
			continue
		}
		ids = append(ids, mr.Rule().ID())
	}
	return ids
}

// anomalyScore reads a CRS score from the transaction's TX collection.
func anomalyScore(tx types.Transaction, name string) int {
	st, ok := tx.(plugintypes.TransactionState)
	if !ok {
		return 0
	}
	vs := st.Variables().TX().Get(name)
	if len(vs) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(vs[0])
	return n
}

// OnResponse runs the CRS response rules when the route inspects
// responses. Bodies of server-sent event streams are not buffered (that
// would break streaming); their headers are inspected.
func (s *Stage) OnResponse(ctx context.Context, rc *pipeline.RequestContext, res *http.Response) (*pipeline.Decision, error) {
	if !s.cfg.InspectResponses {
		return nil, nil
	}
	v, ok := s.pending.Load(rc)
	if !ok {
		return nil, nil
	}
	tx := v.(types.Transaction)
	for k, vs := range res.Header {
		for _, v := range vs {
			tx.AddResponseHeader(k, v)
		}
	}
	it := tx.ProcessResponseHeaders(res.StatusCode, res.Proto)
	if it == nil && tx.IsResponseBodyProcessable() && res.Body != nil && !isEventStream(res) {
		limit := s.cfg.ResponseBodyLimit
		buf, err := io.ReadAll(io.LimitReader(res.Body, limit))
		if err != nil {
			return nil, fmt.Errorf("waf: reading response body: %w", err)
		}
		res.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), res.Body), res.Body}
		if it, _, err = tx.WriteResponseBody(buf); err != nil {
			return nil, fmt.Errorf("waf: buffering response body: %w", err)
		}
		if it == nil {
			if it, err = tx.ProcessResponseBody(); err != nil {
				return nil, fmt.Errorf("waf: processing response body: %w", err)
			}
		}
	}
	if it == nil {
		if do, ok := tx.(detectionOnly); ok {
			it = do.DetectionOnlyInterruption()
		}
	}
	route := routeName(rc)
	var a *Audit
	for _, f := range rc.AuditFields() {
		if f.Key == StageName {
			a, _ = f.Value.(*Audit)
		}
	}
	if a == nil {
		a = &Audit{Mode: s.cfg.Mode, Action: "allow"}
		rc.SetAudit(StageName, a)
	}
	a.ResponseScore = anomalyScore(tx, "blocking_outbound_anomaly_score")
	all := loggedRules(tx, nil)
	seen := make(map[int]bool, len(a.Rules))
	for _, id := range a.Rules {
		seen[id] = true
	}
	for _, id := range all {
		if !seen[id] {
			a.ResponseRules = append(a.ResponseRules, id)
			s.match(route, strconv.Itoa(id))
		}
	}
	if it == nil {
		return nil, nil
	}
	d := &pipeline.Decision{
		Status: http.StatusBadGateway, Type: pipeline.TypeUpstream, Code: "response_blocked",
		Message: "The upstream response was withheld by the gateway's security policy.",
		Stage:   StageName, Rule: RuleCRS,
		Reason: fmt.Sprintf("crs response rule %d, outbound anomaly score %d, rules %v", it.RuleID, a.ResponseScore, a.ResponseRules),
	}
	if s.detect() {
		a.Action = "detect"
		rc.Detect(d)
		return nil, nil
	}
	a.Action = "block"
	return d, nil
}

// Finish closes a transaction kept open for response inspection.
func (s *Stage) Finish(_ context.Context, rc *pipeline.RequestContext) {
	if !s.cfg.InspectResponses {
		return
	}
	if v, ok := s.pending.LoadAndDelete(rc); ok {
		s.closeTx(v.(types.Transaction))
	}
}

func (s *Stage) closeTx(tx types.Transaction) {
	if s.phase5 {
		tx.ProcessLogging()
	}
	_ = tx.Close()
}

func isEventStream(res *http.Response) bool {
	return strings.HasPrefix(strings.ToLower(res.Header.Get("Content-Type")), "text/event-stream")
}

func routeName(rc *pipeline.RequestContext) string {
	if rc.Route != nil {
		return rc.Route.Name
	}
	return ""
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
