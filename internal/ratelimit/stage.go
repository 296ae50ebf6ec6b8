// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
	"github.com/bulwarkai/bulwark/internal/ratelimit/tokens"
)

// StageName is the stage's name in decisions, logs and metrics.
const StageName = "limits"

// UncappedOutputReservation is the output reserved for a request that sets
// no max_tokens on a route without maxOutputTokens. The upstream may then
// generate more, which is charged when the request settles; set
// maxOutputTokens to make the reservation, and so the overshoot bound,
// exact.
const UncappedOutputReservation = 1024

// Stage enforces one route's limits. Build it with New.
type Stage struct {
	route    string
	store    Store
	logger   *slog.Logger
	metrics  *metrics
	limits   []*limit
	outCap   int
	leaseTTL time.Duration
	// tokenLimits is true when some limit needs the prompt estimated.
	tokenLimits bool

	// pending holds the reservation of each request between OnRequest and
	// Finish. RequestContext is pooled and has no slot for stage state, so
	// the reservation is keyed by the context's address, which is unique
	// while the request lives.
	pending sync.Map // *pipeline.RequestContext → *reservation
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.Finisher      = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
)

// limit is one compiled config.Limit.
type limit struct {
	name   string
	kind   string // config.Limit* kind
	claim  ClaimKind
	key    keyKind
	keyArg string
	// keySuffix follows the hash tag in store keys: ":" scope ":" name.
	keySuffix string
	prefix    string
	quota     int64
	window    time.Duration
	period    Period
	overrides map[string]override
	prices    *priceTable
	// windowSec is the window in whole seconds for headers.
	windowSec int64
}

type override struct {
	quota     int64
	unlimited bool
}

// microUnits is the budget resolution: one millionth of a currency unit.
const microUnits = 1e6

// New builds the stage for one route. It returns (nil, nil) when the route
// has neither limits nor maxOutputTokens. store may be shared by many
// stages; it is closed by whoever opened it.
func New(route *config.Route, store Store, logger *slog.Logger, reg prometheus.Registerer) (*Stage, error) {
	if len(route.Limits) == 0 && route.MaxOutputTokens <= 0 {
		return nil, nil
	}
	if len(route.Limits) > 0 && store == nil {
		return nil, fmt.Errorf("limits on route %q: no limit store", route.Name)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Stage{
		route:    route.Name,
		store:    store,
		logger:   logger,
		metrics:  newMetrics(reg),
		outCap:   route.MaxOutputTokens,
		leaseTTL: route.Timeout.D() + time.Minute,
	}
	if route.Timeout <= 0 {
		s.leaseTTL = 11 * time.Minute
	}
	prefix := "bulwark:"
	if rs, ok := store.(*redisStore); ok && rs.prefix != "" {
		prefix = rs.prefix
	}
	var errs []error
	for i := range route.Limits {
		l, err := compileLimit(route.Name, prefix, &route.Limits[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("routes %q limits[%d]: %w", route.Name, i, err))
			continue
		}
		switch l.kind {
		case config.LimitTokens, config.LimitInputTokens, config.LimitOutputTokens, config.LimitBudget:
			s.tokenLimits = true
		}
		s.limits = append(s.limits, l)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if s.tokenLimits && s.outCap <= 0 {
		logger.Warn("route has token limits or budgets but no maxOutputTokens: requests without max_tokens reserve a default output and may overshoot by what they generate beyond it",
			"route", route.Name, "default_output_reservation", UncappedOutputReservation)
	}
	return s, nil
}

func compileLimit(route, prefix string, c *config.Limit) (*limit, error) {
	key, arg, ok := parseKey(c.Key)
	if !ok {
		return nil, fmt.Errorf("key %q is not valid", c.Key)
	}
	kind := c.Kind()
	l := &limit{name: c.Name, kind: kind, key: key, keyArg: arg, prefix: prefix, window: c.Window.D()}
	scope := route
	if c.Scope == "global" {
		scope = "*"
	}
	l.keySuffix = ":" + scope + ":" + c.Name
	toUnits := func(q float64) int64 { return int64(q) }
	switch kind {
	case config.LimitRequests, config.LimitTokens, config.LimitInputTokens, config.LimitOutputTokens:
		l.claim = Bucket
		if l.window <= 0 {
			return nil, fmt.Errorf("limit %q has no window", c.Name)
		}
		l.windowSec = int64(math.Ceil(l.window.Seconds()))
	case config.LimitConcurrency:
		l.claim = Lease
	case config.LimitBudget:
		l.claim = Budget
		l.period = Month
		if c.Period == "day" {
			l.period = Day
		}
		toUnits = func(q float64) int64 { return int64(math.Round(q * microUnits)) }
		l.prices = newPriceTable(c.Prices)
	default:
		return nil, fmt.Errorf("limit %q sets no single quantity", c.Name)
	}
	l.quota = toUnits(c.Quota())
	if l.quota <= 0 {
		return nil, fmt.Errorf("limit %q has no positive quota", c.Name)
	}
	if len(c.Overrides) > 0 {
		l.overrides = map[string]override{}
		for _, o := range c.Overrides {
			ov := override{unlimited: o.Unlimited}
			if !o.Unlimited {
				ov.quota = toUnits(o.Quota(kind))
			}
			for _, v := range o.Values {
				l.overrides[v] = ov
			}
		}
	}
	return l, nil
}

// Name implements pipeline.Stage.
func (s *Stage) Name() string { return StageName }

// reservation is what one request took, kept until Finish.
type reservation struct {
	claims  []Claim
	limits  []*limit
	results []ClaimResult
	prompt  int64 // estimated prompt tokens reserved
	output  int64 // output tokens reserved
	model   string
}

var reservationPool = sync.Pool{New: func() any { return new(reservation) }}

func getReservation() *reservation { return reservationPool.Get().(*reservation) }

func putReservation(r *reservation) {
	clear(r.claims)
	clear(r.limits)
	clear(r.results)
	*r = reservation{claims: r.claims[:0], limits: r.limits[:0], results: r.results[:0]}
	reservationPool.Put(r)
}

// Lease members are unique per process (random prefix) and per request.
var (
	leasePrefix  = newLeasePrefix()
	leaseCounter atomic.Uint64
)

func newLeasePrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}

// OnRequest caps the output, estimates the cost and reserves it from every
// applicable counter. A refusal is a 429 with rate-limit headers; a store
// failure is a 503 (failureMode closed) or an allow (open).
func (s *Stage) OnRequest(ctx context.Context, rc *pipeline.RequestContext) (*pipeline.Decision, error) {
	output := s.capOutput(rc)
	if len(s.limits) == 0 {
		return nil, nil
	}
	res := getReservation()
	if s.tokenLimits {
		res.prompt = tokens.Prompt(rc.LLM, len(rc.Body))
		res.output = output
	}
	if rc.LLM != nil {
		res.model = rc.LLM.Model
	}
	// Limits sharing a partition share a hash tag: compute each once.
	var tags [4]struct {
		kind       keyKind
		arg, value string
		tag        string
	}
	ntags := 0
	for _, l := range s.limits {
		value := keyValue(l.key, l.keyArg, rc)
		quota := l.quota
		if ov, ok := l.overrides[value]; ok {
			if ov.unlimited {
				continue
			}
			quota = ov.quota
		}
		c := Claim{Kind: l.claim, Quota: quota, Window: l.window, Period: l.period}
		switch l.kind {
		case config.LimitRequests:
			c.Cost = 1
		case config.LimitTokens:
			c.Cost = res.prompt + res.output
		case config.LimitInputTokens:
			c.Cost = res.prompt
		case config.LimitOutputTokens:
			c.Cost = res.output
		case config.LimitConcurrency:
			c.TTL = s.leaseTTL
			c.Member = leasePrefix + strconv.FormatUint(leaseCounter.Add(1), 36)
		case config.LimitBudget:
			p, ok := l.prices.lookup(res.model)
			if !ok {
				putReservation(res)
				return &pipeline.Decision{
					Status: http.StatusForbidden, Type: pipeline.TypePermission, Code: "model_not_priced",
					Message: "This model is not available under your budget.", Stage: StageName, Rule: l.name,
					Reason: "budget " + l.name + " has no price for the requested model",
				}, nil
			}
			c.Cost = p.cost(res.prompt, res.output)
		}
		tag := ""
		for i := range ntags {
			if t := &tags[i]; t.kind == l.key && t.arg == l.keyArg && t.value == value {
				tag = t.tag
				break
			}
		}
		if tag == "" {
			tag = hashTag(l.key, value)
			if ntags < len(tags) {
				tags[ntags].kind, tags[ntags].arg, tags[ntags].value, tags[ntags].tag = l.key, l.keyArg, value, tag
				ntags++
			}
		}
		c.Key = l.prefix + "{" + tag + "}" + l.keySuffix
		res.claims = append(res.claims, c)
		res.limits = append(res.limits, l)
	}
	if len(res.claims) == 0 {
		putReservation(res)
		return nil, nil
	}
	v, err := s.store.Acquire(ctx, res.claims)
	if err != nil {
		claims := len(res.claims)
		putReservation(res)
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		if s.store.FailOpen() {
			s.metrics.failOpen.WithLabelValues(s.route).Inc()
			rc.SetAudit(StageName, auditFailOpen)
			if rc.Logger != nil {
				rc.Logger.LogAttrs(ctx, slog.LevelWarn, "limits not enforced: store unavailable, failureMode open",
					slog.String(pipeline.LogRequestID, rc.ID), slog.String("route", s.route), slog.Int("limits", claims), slog.String("error", err.Error()))
			}
			return nil, nil
		}
		return nil, &pipeline.StatusError{
			Status: http.StatusServiceUnavailable, Type: pipeline.TypeServer, Code: "limit_store_unavailable",
			Message: "Rate limiting is temporarily unavailable; please retry shortly.", Err: err,
		}
	}
	res.results = v.Results
	if !v.Allowed {
		d := s.deny(res, v.Denied)
		putReservation(res)
		return d, nil
	}
	s.pending.Store(rc, res)
	return nil, nil
}

// capOutput enforces the route's maxOutputTokens by rewriting the request
// and returns the output tokens to reserve.
func (s *Stage) capOutput(rc *pipeline.RequestContext) int64 {
	r := rc.LLM
	if r == nil || r.API == llm.APIEmbeddings {
		return 0
	}
	out := r.MaxTokens
	if s.outCap > 0 && (out == 0 || out > s.outCap) {
		out = s.outCap
		if rc.Edits.MaxTokens == 0 || rc.Edits.MaxTokens > out {
			rc.Edits.MaxTokens = out
		}
	}
	// Another stage may have capped it lower still.
	if e := rc.Edits.MaxTokens; e > 0 && (out == 0 || e < out) {
		out = e
	}
	if out == 0 {
		return UncappedOutputReservation
	}
	return int64(out)
}

// OnResponse sets the rate-limit headers on a response the upstream
// accepted, replacing any the upstream sent about its own limits.
func (s *Stage) OnResponse(_ context.Context, rc *pipeline.RequestContext, res *http.Response) (*pipeline.Decision, error) {
	v, ok := s.pending.Load(rc)
	if !ok {
		return nil, nil
	}
	r := v.(*reservation)
	setHeaders(res.Header, r.limits, r.claims, r.results)
	return nil, nil
}

// Finish settles the request's reservations to what it used and releases
// its concurrency slots, whatever happened to it.
func (s *Stage) Finish(ctx context.Context, rc *pipeline.RequestContext) {
	v, ok := s.pending.LoadAndDelete(rc)
	if !ok {
		return
	}
	res := v.(*reservation)
	defer putReservation(res)
	prompt, completion := s.used(rc, res)
	adj := make([]Adjustment, 0, len(res.claims))
	for i := range res.claims {
		c := &res.claims[i]
		a := Adjustment{Kind: c.Kind, Key: c.Key, Quota: c.Quota, Window: c.Window, Member: c.Member}
		switch res.limits[i].kind {
		case config.LimitRequests:
			continue
		case config.LimitTokens:
			a.Delta = prompt + completion - c.Cost
		case config.LimitInputTokens:
			a.Delta = prompt - c.Cost
		case config.LimitOutputTokens:
			a.Delta = completion - c.Cost
		case config.LimitBudget:
			p, _ := res.limits[i].prices.lookup(res.model)
			a.Delta = p.cost(prompt, completion) - c.Cost
			a.PeriodStart = res.results[i].PeriodStart
		}
		if c.Kind != Lease && a.Delta == 0 {
			continue
		}
		adj = append(adj, a)
	}
	if over := prompt + completion - res.prompt - res.output; over > 0 && s.tokenLimits {
		s.metrics.unreserved.WithLabelValues(s.route).Add(float64(over))
	}
	if s.tokenLimits {
		rc.SetAudit(StageName, auditTokens{Reserved: res.prompt + res.output, Charged: prompt + completion, Estimated: res.prompt})
	}
	if len(adj) == 0 {
		return
	}
	// Stores bound their own calls (limitStore.redis.timeout).
	if err := s.store.Settle(ctx, adj); err != nil {
		s.metrics.settleErrors.WithLabelValues(s.route).Inc()
		if rc.Logger != nil {
			rc.Logger.LogAttrs(ctx, slog.LevelWarn, "limits: settling reservation failed; it stays charged and leases expire",
				slog.String(pipeline.LogRequestID, rc.ID), slog.String("route", s.route), slog.String("error", err.Error()))
		}
	}
}

// used decides what the request consumed:
//   - what the upstream reported, when it did;
//   - what the gateway counted when a stream broke off (the prompt was
//     processed, so it is charged at the estimate if not counted);
//   - nothing, when no upstream answer was produced (refused later,
//     upstream error);
//   - the whole reservation when the upstream answered but reported
//     nothing, since there is no better number.
func (s *Stage) used(rc *pipeline.RequestContext, res *reservation) (prompt, completion int64) {
	u := rc.Usage
	switch {
	case u.Reported:
		return u.PromptTokens, u.CompletionTokens
	case u.Total() > 0:
		prompt = u.PromptTokens
		if prompt == 0 {
			prompt = res.prompt
		}
		return prompt, u.CompletionTokens
	case rc.Decision != nil || rc.Status < 200 || rc.Status >= 300:
		return 0, 0
	}
	return res.prompt, res.output
}

// audit sections.
type auditTokens struct {
	Reserved  int64 `json:"reserved_tokens"`
	Charged   int64 `json:"charged_tokens"`
	Estimated int64 `json:"estimated_prompt_tokens"`
}

type auditStore struct {
	Store string `json:"store"`
}

var auditFailOpen = auditStore{Store: "unavailable_fail_open"}

// deny builds the refusal for the claim at index i.
func (s *Stage) deny(res *reservation, i int) *pipeline.Decision {
	l := res.limits[i]
	r := res.results[i]
	c := res.claims[i]
	h := http.Header{}
	setHeaders(h, res.limits, res.claims, res.results)
	d := &pipeline.Decision{
		Status: http.StatusTooManyRequests, Type: pipeline.TypeRateLimit, Code: "rate_limit_exceeded",
		Stage: StageName, Rule: l.name, Header: h,
	}
	retry := ""
	if r.RetryAfter > 0 {
		secs := int64(math.Ceil(r.RetryAfter.Seconds()))
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		retry = " Please retry after " + strconv.FormatInt(secs, 10) + "s."
	}
	switch {
	case l.claim == Budget:
		d.Type, d.Code = pipeline.TypeQuota, "insufficient_quota"
		d.Message = "Your budget for this " + periodName(l.period) + " is exhausted." + retry
		d.Reason = fmt.Sprintf("budget %s: cost %s exceeds remaining %s of %s per %s",
			l.name, money(c.Cost), money(r.Remaining), money(c.Quota), periodName(l.period))
	case r.RetryAfter < 0:
		d.Code = "request_too_large"
		d.Message = fmt.Sprintf("Request too large: it needs about %d %s but the limit allows %d per %s. Reduce the prompt or max_tokens.",
			c.Cost, unitName(l.kind), c.Quota, l.window)
		d.Reason = fmt.Sprintf("limit %s: cost %d exceeds quota %d", l.name, c.Cost, c.Quota)
	case l.claim == Lease:
		d.Code = "concurrency_limit_exceeded"
		d.Message = "Too many concurrent requests." + retry
		d.Reason = fmt.Sprintf("limit %s: %d requests in flight", l.name, c.Quota)
	default:
		d.Message = "Rate limit exceeded for " + unitName(l.kind) + "." + retry
		d.Reason = fmt.Sprintf("limit %s (%s by %s): cost %d, remaining %d of %d per %s",
			l.name, l.kind, keyKindNames[l.key], c.Cost, r.Remaining, c.Quota, l.window)
	}
	return d
}

func periodName(p Period) string {
	if p == Day {
		return "day"
	}
	return "month"
}

func unitName(kind string) string {
	switch kind {
	case config.LimitRequests:
		return "requests"
	case config.LimitInputTokens:
		return "input tokens"
	case config.LimitOutputTokens:
		return "output tokens"
	}
	return "tokens"
}

func money(micro int64) string { return strconv.FormatFloat(float64(micro)/microUnits, 'f', -1, 64) }

// priceTable finds a model's price: exact name, then the longest "prefix*",
// then "*".
type priceTable struct {
	exact    map[string]price
	prefixes []prefixPrice // longest first
	any      *price
}

// price is in micro-units per token, which is the config's currency per
// million tokens.
type price struct{ in, out float64 }

type prefixPrice struct {
	prefix string
	p      price
}

func newPriceTable(m map[string]config.Price) *priceTable {
	t := &priceTable{exact: map[string]price{}}
	for model, p := range m {
		pr := price{in: p.Input, out: p.Output}
		switch {
		case model == "*":
			t.any = &pr
		case strings.HasSuffix(model, "*"):
			t.prefixes = append(t.prefixes, prefixPrice{strings.TrimSuffix(model, "*"), pr})
		default:
			t.exact[model] = pr
		}
	}
	sort.Slice(t.prefixes, func(i, j int) bool { return len(t.prefixes[i].prefix) > len(t.prefixes[j].prefix) })
	return t
}

func (t *priceTable) lookup(model string) (price, bool) {
	if p, ok := t.exact[model]; ok {
		return p, true
	}
	for _, pp := range t.prefixes {
		if strings.HasPrefix(model, pp.prefix) {
			return pp.p, true
		}
	}
	if t.any != nil {
		return *t.any, true
	}
	return price{}, false
}

// cost is the price of the tokens in micro-units, rounded up.
func (p price) cost(in, out int64) int64 {
	return int64(math.Ceil(float64(in)*p.in + float64(out)*p.out))
}
