// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/guard/entity"
	"github.com/bulwarkai/bulwark/internal/guard/injection"
	"github.com/bulwarkai/bulwark/internal/guard/pii"
	"github.com/bulwarkai/bulwark/internal/guard/redact"
	"github.com/bulwarkai/bulwark/internal/guard/secrets"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// StageName is the stage's name in decisions, logs, metrics and the audit
// line.
const StageName = "guards"

// Client-facing refusal, the same for every guard: which detector fired
// and why goes to the log and the audit line only.
const (
	CodePolicy     = "content_policy_violation"
	msgBlocked     = "The request was blocked by a content guard."
	msgOutBlocked  = "The response was blocked by a content guard."
	codeUnscanned  = "unscannable_request"
	msgUnscanned   = "This route guards prompts, and the gateway cannot read the prompt in this request."
	codeGuardDown  = "guard_unavailable"
	msgGuardDown   = "A content guard is unavailable; try again later."
	codeUnscanResp = "unscannable_response"
	msgUnscanResp  = "This route guards responses, and the gateway cannot read this response."
)

// Stage runs one route's input and output guards. Build it with New; it is
// immutable and shared by every request of the route.
type Stage struct {
	logger  *slog.Logger
	metrics *metrics
	input   []*guard
	output  []*guard
	remotes []*guard
	// maskTypes are the entity types that input mask guards report; a
	// response needs the Restorer only when one of them was masked.
	allowUnscanned bool
	holdCap        int
	maxResponse    int64
	client         *http.Client
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
	_ pipeline.Closer        = (*Stage)(nil)
)

// guard is one compiled config.Guard.
type guard struct {
	name     string
	detector string
	action   string
	roles    roleSet
	// det finds entities (pii, secrets, code, patterns).
	det entity.Detector
	// inj scores prompt injection.
	inj       *injection.Model
	threshold float64
	remote    *remoteGuard
}

// New compiles the guards of one route. A nil cfg, or one without guards,
// yields (nil, nil): the route has no guards stage. reg may be shared by
// many routes and reloads.
func New(cfg *config.Guards, logger *slog.Logger, reg prometheus.Registerer) (*Stage, error) {
	if cfg == nil || len(cfg.Input) == 0 && len(cfg.Output) == 0 {
		return nil, nil
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Stage{
		logger:         logger,
		metrics:        newMetrics(reg),
		allowUnscanned: cfg.UnsafeAllowUnscanned,
		holdCap:        cfg.UnsafeStreamHoldBack,
		maxResponse:    cfg.MaxResponseBytes,
		client:         &http.Client{Transport: newRemoteTransport()},
	}
	if s.maxResponse <= 0 {
		s.maxResponse = config.DefaultGuardMaxResponseBytes
	}
	var errs []error
	for i := range cfg.Input {
		g, err := s.compile(&cfg.Input[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("guards.input[%d]: %w", i, err))
			continue
		}
		if g.remote != nil {
			s.remotes = append(s.remotes, g)
		} else {
			s.input = append(s.input, g)
		}
	}
	for i := range cfg.Output {
		g, err := s.compile(&cfg.Output[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("guards.output[%d]: %w", i, err))
			continue
		}
		if g.det == nil {
			errs = append(errs, fmt.Errorf("guards.output[%d]: detector %s cannot guard output", i, g.detector))
			continue
		}
		s.output = append(s.output, g)
	}
	if err := checkModes(s.input); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		s.client.CloseIdleConnections()
		return nil, err
	}
	// Preload the injection model so the first request does not pay for it.
	for _, g := range s.input {
		if g.inj != nil {
			g.inj.Score("warm up")
		}
	}
	return s, nil
}

func (s *Stage) compile(c *config.Guard) (*guard, error) {
	g := &guard{name: c.Name, detector: c.Detector, action: c.Action, threshold: c.Threshold}
	if g.name == "" {
		g.name = c.Detector
	}
	var err error
	if g.roles, err = parseRoles(c.Roles); err != nil {
		return nil, err
	}
	switch c.Detector {
	case config.DetectorPromptInjection:
		g.inj = injection.Default()
		if g.threshold <= 0 {
			g.threshold = g.inj.Threshold()
		}
	case config.DetectorPII:
		g.det, err = pii.New(c.Entities...)
	case config.DetectorSecrets:
		g.det, err = secrets.New(c.Entities...)
	case config.DetectorCode:
		g.det = codeDetector{}
	case config.DetectorPatterns:
		g.det, err = newPatternDetector(c)
	case config.DetectorRemote:
		if c.Remote == nil {
			return nil, errors.New("remote: missing settings")
		}
		g.remote, err = newRemoteGuard(c.Remote, s.client)
	default:
		return nil, fmt.Errorf("unknown detector %q", c.Detector)
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// checkModes refuses an entity type that one input guard masks and
// another redacts: the two would number placeholders independently, and
// the Restorer could not tell them apart.
func checkModes(gs []*guard) error {
	var masked, redacted []string
	for _, g := range gs {
		if g.det == nil {
			continue
		}
		switch g.action {
		case config.GuardMask:
			masked = append(masked, g.det.Types()...)
		case config.GuardRedact:
			redacted = append(redacted, g.det.Types()...)
		}
	}
	for _, t := range masked {
		if slices.Contains(redacted, t) {
			return fmt.Errorf("guards.input: entity type %s is both masked and redacted; choose one action per type (set entities)", t)
		}
	}
	return nil
}

// Name implements pipeline.Stage.
func (s *Stage) Name() string { return StageName }

// Close releases the remote guards' connections.
func (s *Stage) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// reqState is what one request's guards share between the prompt and the
// response. It lives in rc.Guard.
type reqState struct {
	// mask holds the originals of masked prompt values; nil when nothing
	// was masked.
	mask *redact.Redactor
	// redactor numbers redact placeholders on both sides, so one value
	// reads the same in the prompt and in the reply.
	redactor *redact.Redactor
	audit    Audit
	auditSet bool
	s        *Stage
	rc       *pipeline.RequestContext
}

func (s *Stage) state(rc *pipeline.RequestContext) *reqState {
	if st, ok := rc.Guard.(*reqState); ok && st.s == s {
		return st
	}
	st := &reqState{s: s, rc: rc}
	rc.Guard = st
	return st
}

// ensureAudit adds the stage's section to the audit line, once there is
// something to say.
func (st *reqState) ensureAudit() {
	if !st.auditSet {
		st.auditSet = true
		st.rc.SetAudit(StageName, &st.audit)
	}
}

func (st *reqState) hit(dir string, g *guard) *Hit {
	st.ensureAudit()
	return st.audit.hit(dir, g)
}

func (st *reqState) redactorFor() *redact.Redactor {
	if st.redactor == nil {
		st.redactor = redact.New(redact.Redact)
	}
	return st.redactor
}

// Directions, as audit keys and metric labels.
const (
	dirInput  = "input"
	dirOutput = "output"
)

// record notes that g found an entity of type typ.
func (st *reqState) record(dir string, g *guard, typ string) {
	h := st.hit(dir, g)
	h.Count++
	if typ != "" && !slices.Contains(h.Types, typ) {
		h.Types = append(h.Types, typ)
		slices.Sort(h.Types)
	}
	st.fire(dir, g)
}

// fire counts g in metrics once per request and direction.
func (st *reqState) fire(dir string, g *guard) {
	h := st.hit(dir, g)
	if h.Outcome == "" || h.Outcome == outcomePass {
		h.Outcome = g.action
		st.s.metrics.hits.WithLabelValues(dir, g.name, g.detector, g.action).Inc()
	}
}

// OnRequest runs the input guards: local detectors in order while the
// remote guards run concurrently, then the remote verdicts.
func (s *Stage) OnRequest(ctx context.Context, rc *pipeline.RequestContext) (*pipeline.Decision, error) {
	if len(s.input) == 0 && len(s.remotes) == 0 {
		return nil, nil
	}
	if rc.LLM == nil {
		if len(rc.Body) > 0 && !s.allowUnscanned {
			s.metrics.unscanned.WithLabelValues(dirInput).Inc()
			return &pipeline.Decision{Status: http.StatusForbidden, Type: pipeline.TypeInvalidRequest, Code: codeUnscanned,
				Message: msgUnscanned, Stage: StageName, Rule: "unscannable", Reason: "passthrough request body cannot be parsed for guards"}, nil
		}
		return nil, nil
	}
	if rc.LLM.TokenInputs > 0 && !s.allowUnscanned {
		s.metrics.unscanned.WithLabelValues(dirInput).Inc()
		return &pipeline.Decision{Status: http.StatusForbidden, Type: pipeline.TypeInvalidRequest, Code: codeUnscanned,
			Message: msgUnscanned, Stage: StageName, Rule: "unscannable", Reason: "pre-tokenized prompt cannot be scanned"}, nil
	}
	// rc.LLM is set only after the core's llm.CheckStrict accepted the
	// body (duplicate or case-variant keys, lone surrogates are refused
	// before any stage), so the guards read what the upstream reads.
	texts := rc.LLM.Texts
	var edited []llm.Text
	if len(rc.Edits.Texts) > 0 { // guard what will be sent, not what came
		edited = slices.Clone(texts)
		for i := range edited {
			if v, ok := rc.Edits.Texts[edited[i].Field]; ok {
				edited[i].Value = v
			}
		}
		texts = edited
	}

	var remote *remoteCalls
	if len(s.remotes) > 0 {
		remote = s.startRemotes(ctx, texts)
		defer remote.cancel()
	}
	d := s.local(rc, texts)
	if d != nil {
		return d, nil
	}
	if remote != nil {
		return s.remoteVerdicts(rc, remote), nil
	}
	return nil, nil
}

// pending collects the redactions of one text.
type pending struct {
	masked, redacted []entity.Finding
}

// local runs the in-process input guards.
func (s *Stage) local(rc *pipeline.RequestContext, texts []llm.Text) *pipeline.Decision {
	var edits map[int]*pending
	var fs []entity.Finding
	for _, g := range s.input {
		start := time.Now()
		if g.inj != nil {
			if d := s.injection(rc, g, texts); d != nil {
				s.metrics.observe(dirInput, g, time.Since(start))
				return d
			}
			s.metrics.observe(dirInput, g, time.Since(start))
			continue
		}
		for i := range texts {
			t := &texts[i]
			if !g.roles.has(t.Role) {
				continue
			}
			fs = g.det.Find(t.Value, fs[:0])
			if len(fs) == 0 {
				continue
			}
			st := s.state(rc)
			for _, f := range fs {
				st.record(dirInput, g, f.Type)
			}
			switch g.action {
			case config.GuardBlock:
				s.metrics.observe(dirInput, g, time.Since(start))
				return blockDecision(g, fmt.Sprintf("%s found %s in %s (role %s)", g.name, strings.Join(entityTypes(fs), ","), t.Field, roleName(t.Role)))
			case config.GuardDetect:
				rc.Detect(&pipeline.Decision{Stage: StageName, Rule: g.name,
					Reason: fmt.Sprintf("%s found %s in %s (role %s)", g.name, strings.Join(entityTypes(fs), ","), t.Field, roleName(t.Role))})
			case config.GuardMask, config.GuardRedact:
				if edits == nil {
					edits = map[int]*pending{}
				}
				p := edits[i]
				if p == nil {
					p = &pending{}
					edits[i] = p
				}
				if g.action == config.GuardMask {
					p.masked = append(p.masked, fs...)
				} else {
					p.redacted = append(p.redacted, fs...)
				}
			}
		}
		s.metrics.observe(dirInput, g, time.Since(start))
	}
	if len(edits) > 0 {
		s.applyEdits(rc, texts, edits)
	}
	return nil
}

// applyEdits replaces every masked and redacted value, one pass per text,
// and hands the new texts to the core through rc.Edits.
func (s *Stage) applyEdits(rc *pipeline.RequestContext, texts []llm.Text, edits map[int]*pending) {
	st := s.state(rc)
	if rc.Edits.Texts == nil {
		rc.Edits.Texts = make(map[string]string, len(edits))
	}
	for i, p := range edits {
		text := texts[i].Value
		all := entity.Merge(append(slices.Clone(p.masked), p.redacted...))
		var b strings.Builder
		b.Grow(len(text) + 16*len(all))
		last := 0
		for _, f := range all {
			if f.Start < last || f.End > len(text) {
				continue
			}
			b.WriteString(text[last:f.Start])
			r := st.redactorFor()
			if slices.Contains(p.masked, f) {
				if st.mask == nil {
					st.mask = redact.New(redact.Mask)
				}
				r = st.mask
			}
			b.WriteString(r.Redact(text[f.Start:f.End], []entity.Finding{{Start: 0, End: f.Len(), Type: f.Type}}))
			last = f.End
		}
		b.WriteString(text[last:])
		rc.Edits.Texts[texts[i].Field] = b.String()
	}
}

// injection scores every text in g's roles and fires on the highest.
func (s *Stage) injection(rc *pipeline.RequestContext, g *guard, texts []llm.Text) *pipeline.Decision {
	best, at := 0.0, -1
	for i := range texts {
		if !g.roles.has(texts[i].Role) {
			continue
		}
		if p := g.inj.Score(texts[i].Value); p > best || at < 0 {
			best, at = p, i
		}
	}
	if at < 0 {
		return nil
	}
	st := s.state(rc)
	h := st.hit(dirInput, g)
	h.Score = max(h.Score, best)
	if h.Outcome == "" {
		h.Outcome = outcomePass
	}
	if best < g.threshold {
		return nil
	}
	st.fire(dirInput, g)
	reason := fmt.Sprintf("%s score %.3f >= %.3f in %s (role %s)", g.name, best, g.threshold, texts[at].Field, roleName(texts[at].Role))
	if g.action == config.GuardBlock {
		return blockDecision(g, reason)
	}
	rc.Detect(&pipeline.Decision{Stage: StageName, Rule: g.name, Reason: reason})
	return nil
}

func blockDecision(g *guard, reason string) *pipeline.Decision {
	return &pipeline.Decision{Status: http.StatusForbidden, Type: pipeline.TypeInvalidRequest, Code: CodePolicy,
		Message: msgBlocked, Stage: StageName, Rule: g.name, Reason: reason}
}

// roleSet is a bit set of message roles.
type roleSet uint8

const (
	roleSystem roleSet = 1 << iota
	roleDeveloper
	roleUser
	roleAssistant
	roleTool
	rolePrompt
	allRoles = roleSystem | roleDeveloper | roleUser | roleAssistant | roleTool | rolePrompt
)

func roleBit(r string) (roleSet, bool) {
	switch strings.ToLower(strings.TrimSpace(r)) {
	case "system":
		return roleSystem, true
	case "developer":
		return roleDeveloper, true
	case "user":
		return roleUser, true
	case "assistant":
		return roleAssistant, true
	case "tool", "function", "ipython":
		return roleTool, true
	case "", "prompt":
		return rolePrompt, true
	}
	return 0, false
}

func parseRoles(rs []string) (roleSet, error) {
	if len(rs) == 0 {
		return allRoles, nil
	}
	var set roleSet
	for _, r := range rs {
		b, ok := roleBit(r)
		if !ok || r == "" {
			return 0, fmt.Errorf("unknown role %q", r)
		}
		set |= b
	}
	return set, nil
}

// has reports whether a text of role r is scanned. Roles the gateway does
// not know are always scanned: an odd role must not be a way around a
// guard.
func (s roleSet) has(r string) bool {
	b, ok := roleBit(r)
	return !ok || s&b != 0
}

func roleName(r string) string {
	if r == "" {
		return "prompt"
	}
	return r
}
