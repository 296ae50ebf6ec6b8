// SPDX-License-Identifier: Apache-2.0

package config

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// LimitStore selects where limit counters live.
type LimitStore struct {
	// Redis shares counters across replicas. Without it counters live in
	// the gateway's memory: correct for a single replica only.
	Redis *RedisStore `json:"redis,omitempty"`
	// FailureMode decides what happens while the store is unreachable:
	// closed (default: 503) or open (allow, log and count in
	// bulwark_limit_fail_open_total).
	FailureMode string `json:"failureMode,omitempty"`
}

// RedisStore addresses one Redis server (standalone, or a primary behind a
// proxy) with Address, or a Redis Cluster with Addresses. Keys carry hash
// tags, so all keys one decision touches for one partition value land in
// one Redis Cluster slot.
type RedisStore struct {
	// Address is host:port of one Redis server. Set Address or Addresses.
	Address string `json:"address,omitempty"`
	// Addresses are host:port seed nodes of a Redis Cluster (any masters or
	// replicas; the rest of the cluster is discovered from them). Setting
	// it selects cluster mode: a decision runs one script per hash slot its
	// keys fall in (see docs/limits.md). Not for a list of standalone
	// servers.
	Addresses []string `json:"addresses,omitempty"`
	// Username for Redis ACLs. Optional.
	Username string `json:"username,omitempty"`
	// PasswordEnv names an environment variable holding the password.
	PasswordEnv string `json:"passwordEnv,omitempty"`
	// DB selects the logical database. Default 0; must be 0 with Addresses
	// (a cluster has only database 0).
	DB int `json:"db,omitempty"`
	// TLS connects with TLS, verifying the server against the system roots.
	TLS bool `json:"tls,omitempty"`
	// Timeout bounds one store round trip (dial, write, read). A decision
	// waits at most this long before failureMode applies. Default 250ms:
	// long enough for a loaded Redis on the same network, short enough that
	// an outage does not stall every request.
	Timeout Duration `json:"timeout,omitempty"`
	// KeyPrefix starts every key. Default "bulwark:".
	KeyPrefix string `json:"keyPrefix,omitempty"`
}

// Limit is one request, token, concurrency or cost limit on a route. Each
// limit sets exactly one of requests, tokens, inputTokens, outputTokens,
// concurrency or budget.
type Limit struct {
	// Name identifies the limit in headers, logs and the audit line, and
	// (with the route and key value) names its counter. Renaming a limit
	// starts a fresh counter.
	Name string `json:"name"`
	// Key partitions the counter: identity, tenant, route, model,
	// clientIP, header:NAME or claim:NAME. Requests without a value (no
	// tenant, header absent) share one counter, so dropping a header never
	// escapes a limit.
	Key string `json:"key"`
	// Requests allowed per Window.
	Requests int64 `json:"requests,omitempty"`
	// Tokens (input+output) allowed per Window.
	Tokens int64 `json:"tokens,omitempty"`
	// InputTokens (prompt) allowed per Window.
	InputTokens int64 `json:"inputTokens,omitempty"`
	// OutputTokens (completion) allowed per Window.
	OutputTokens int64 `json:"outputTokens,omitempty"`
	// Window of the request and token limits: the quota refills
	// continuously at quota/window (a token bucket of size quota). Default 1m.
	Window Duration `json:"window,omitempty"`
	// Concurrency caps requests in flight (streams count until they end).
	Concurrency int64 `json:"concurrency,omitempty"`
	// Budget caps spend per Period, in the currency of Prices.
	Budget float64 `json:"budget,omitempty"`
	// Period of a budget: day or month, UTC calendar. Default month.
	Period string `json:"period,omitempty"`
	// Prices per model for a budget, per million tokens. Keys are model
	// names, globs with a trailing "*" (longest match wins) or "*" for any
	// model. A model with no price is refused while the budget applies.
	Prices map[string]Price `json:"prices,omitempty"`
	// Scope is route (default: the counter is this route's own) or global
	// (limits of the same name and key on every route share one counter,
	// e.g. a tenant's monthly budget across routes).
	Scope string `json:"scope,omitempty"`
	// Overrides replace the quota for particular key values (a tenant, an
	// identity...). They hot-reload with the config; counters carry on.
	Overrides []LimitOverride `json:"overrides,omitempty"`
}

// Price is the cost of one million tokens.
type Price struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
}

// LimitOverride sets another quota for some values of the limit's key.
// Set the same quantity as the limit (e.g. tokens for a token limit), or
// unlimited.
type LimitOverride struct {
	// Values of the limit's key this override applies to (exact match).
	Values       []string `json:"values"`
	Requests     int64    `json:"requests,omitempty"`
	Tokens       int64    `json:"tokens,omitempty"`
	InputTokens  int64    `json:"inputTokens,omitempty"`
	OutputTokens int64    `json:"outputTokens,omitempty"`
	Concurrency  int64    `json:"concurrency,omitempty"`
	Budget       float64  `json:"budget,omitempty"`
	// Unlimited exempts these values from the limit.
	Unlimited bool `json:"unlimited,omitempty"`
}

// Limit kinds, as returned by Limit.Kind.
const (
	LimitRequests     = "requests"
	LimitTokens       = "tokens"
	LimitInputTokens  = "inputTokens"
	LimitOutputTokens = "outputTokens"
	LimitConcurrency  = "concurrency"
	LimitBudget       = "budget"
)

// Kind names the one quantity the limit sets ("" when none or several are
// set, which Validate reports).
func (l *Limit) Kind() string {
	return quotaKind(l.Requests, l.Tokens, l.InputTokens, l.OutputTokens, l.Concurrency, l.Budget)
}

// Quota is the limit's quota of its kind (budgets in currency units).
func (l *Limit) Quota() float64 {
	return quotaOf(l.Kind(), l.Requests, l.Tokens, l.InputTokens, l.OutputTokens, l.Concurrency, l.Budget)
}

// Kind names the quantity the override sets ("" for none or several).
func (o *LimitOverride) Kind() string {
	return quotaKind(o.Requests, o.Tokens, o.InputTokens, o.OutputTokens, o.Concurrency, o.Budget)
}

// Quota is the override's quota of kind (ignored when Unlimited).
func (o *LimitOverride) Quota(kind string) float64 {
	return quotaOf(kind, o.Requests, o.Tokens, o.InputTokens, o.OutputTokens, o.Concurrency, o.Budget)
}

func quotaKind(req, tok, in, out, conc int64, budget float64) string {
	kind, n := "", 0
	for _, q := range []struct {
		set  bool
		name string
	}{
		{req != 0, LimitRequests}, {tok != 0, LimitTokens}, {in != 0, LimitInputTokens},
		{out != 0, LimitOutputTokens}, {conc != 0, LimitConcurrency}, {budget != 0, LimitBudget},
	} {
		if q.set {
			kind, n = q.name, n+1
		}
	}
	if n != 1 {
		return ""
	}
	return kind
}

func quotaOf(kind string, req, tok, in, out, conc int64, budget float64) float64 {
	switch kind {
	case LimitRequests:
		return float64(req)
	case LimitTokens:
		return float64(tok)
	case LimitInputTokens:
		return float64(in)
	case LimitOutputTokens:
		return float64(out)
	case LimitConcurrency:
		return float64(conc)
	case LimitBudget:
		return budget
	}
	return 0
}

// Defaults for limits, each with its reason.
const (
	// A minute is the window operators and OpenAI's own limits quote (RPM,
	// TPM).
	defaultLimitWindow = time.Minute
	// Monthly budgets match how LLM spend is billed.
	defaultBudgetPeriod = "month"
	// One round trip to a healthy Redis on the same network takes well
	// under a millisecond; 250ms tolerates load without stalling requests
	// for long when Redis is gone.
	defaultRedisTimeout = 250 * time.Millisecond
	defaultKeyPrefix    = "bulwark:"
	// Longest window a token bucket may have: counters of longer windows
	// are budgets (calendar periods) instead.
	maxLimitWindow = 31 * 24 * time.Hour
)

func (c *Config) applyLimitStoreDefaults() {
	s := c.LimitStore
	if s == nil {
		return
	}
	if s.FailureMode == "" {
		s.FailureMode = "closed"
	}
	if r := s.Redis; r != nil {
		setDur(&r.Timeout, defaultRedisTimeout)
		if r.KeyPrefix == "" {
			r.KeyPrefix = defaultKeyPrefix
		}
	}
}

func (c *Config) validateLimitStore(e *errs) {
	s := c.LimitStore
	if s == nil {
		return
	}
	if !oneOf(s.FailureMode, "closed", "open") {
		e.add("limitStore.failureMode", "%q is not one of closed|open", s.FailureMode)
	}
	if r := s.Redis; r != nil {
		switch {
		case r.Address != "" && len(r.Addresses) > 0:
			e.add("limitStore.redis", "set address (one server) or addresses (Redis Cluster seed nodes), not both")
		case len(r.Addresses) > 0:
			seen := make(map[string]bool, len(r.Addresses))
			for i, a := range r.Addresses {
				path := fmt.Sprintf("limitStore.redis.addresses[%d]", i)
				checkAddr(e, path, a)
				if seen[a] {
					e.add(path, "%q is listed twice", a)
				}
				seen[a] = true
			}
			if r.DB != 0 {
				e.add("limitStore.redis.db", "must be 0 with addresses (Redis Cluster has only database 0)")
			}
		default:
			checkAddr(e, "limitStore.redis.address", r.Address)
		}
		if r.DB < 0 {
			e.add("limitStore.redis.db", "must not be negative")
		}
		if r.Timeout < 0 {
			e.add("limitStore.redis.timeout", "must be positive")
		}
		if strings.ContainsAny(r.KeyPrefix, "{} \t\r\n") {
			e.add("limitStore.redis.keyPrefix", "%q must not contain braces or whitespace (braces would break hash tags)", r.KeyPrefix)
		}
	}
}

func (l *Limit) applyDefaults() {
	switch l.Kind() {
	case LimitRequests, LimitTokens, LimitInputTokens, LimitOutputTokens:
		setDur(&l.Window, defaultLimitWindow)
	case LimitBudget:
		if l.Period == "" {
			l.Period = defaultBudgetPeriod
		}
	}
	if l.Scope == "" {
		l.Scope = "route"
	}
}

// LimitKeyKinds are the fixed partition keys; header:NAME and claim:NAME
// are the open-ended ones.
var LimitKeyKinds = []string{"identity", "tenant", "route", "model", "clientIP"}

// ValidLimitKey reports whether key is a partition key a limit accepts.
func ValidLimitKey(key string) bool {
	if oneOf(key, LimitKeyKinds...) {
		return true
	}
	for _, p := range []string{"header:", "claim:"} {
		if name, ok := strings.CutPrefix(key, p); ok {
			return name != "" && !strings.ContainsAny(name, " \t\r\n:")
		}
	}
	return false
}

func validateLimits(e *errs, path string, limits []Limit) {
	names := map[string]bool{}
	for i := range limits {
		l := &limits[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		if !nameRE.MatchString(l.Name) {
			e.add(p+".name", "%q must be 1-63 letters, digits, '.', '_' or '-'", l.Name)
		} else if names[l.Name] {
			e.add(p+".name", "duplicate limit name %q on this route", l.Name)
		}
		names[l.Name] = true
		if !ValidLimitKey(l.Key) {
			e.add(p+".key", "%q is not one of identity|tenant|route|model|clientIP|header:NAME|claim:NAME", l.Key)
		}
		if !oneOf(l.Scope, "route", "global") {
			e.add(p+".scope", "%q is not one of route|global", l.Scope)
		}
		kind := l.Kind()
		if kind == "" {
			e.add(p, "set exactly one of requests, tokens, inputTokens, outputTokens, concurrency or budget")
			continue
		}
		if q := l.Quota(); q < 0 || math.IsNaN(q) || math.IsInf(q, 0) {
			e.add(p+"."+kind, "must be positive")
		}
		windowed := kind != LimitConcurrency && kind != LimitBudget
		switch {
		case windowed && (l.Window <= 0 || l.Window.D() > maxLimitWindow):
			e.add(p+".window", "%s must be within (0, 744h]; use a budget for calendar periods", l.Window.D())
		case windowed && l.Window.D()%time.Millisecond != 0:
			e.add(p+".window", "%s must be a whole number of milliseconds", l.Window.D())
		case !windowed && l.Window != 0:
			e.add(p+".window", "applies to requests and token limits only (a %s limit has none)", kind)
		}
		if kind == LimitBudget {
			if !oneOf(l.Period, "day", "month") {
				e.add(p+".period", "%q is not one of day|month", l.Period)
			}
			if len(l.Prices) == 0 {
				e.add(p+".prices", "a budget needs prices per million tokens, e.g. {\"gpt-4o\": {input: 2.5, output: 10}, \"*\": {input: 1, output: 4}}")
			}
			models := make([]string, 0, len(l.Prices))
			for m := range l.Prices {
				models = append(models, m)
			}
			sort.Strings(models)
			for _, m := range models {
				pr := l.Prices[m]
				if m == "" || strings.Count(m, "*") > 1 || (strings.Contains(m, "*") && !strings.HasSuffix(m, "*")) {
					e.add(p+".prices", "model %q must be a name, a prefix ending in \"*\" or \"*\"", m)
				}
				if pr.Input < 0 || pr.Output < 0 || math.IsNaN(pr.Input+pr.Output) || math.IsInf(pr.Input+pr.Output, 0) {
					e.add(fmt.Sprintf("%s.prices[%q]", p, m), "prices must be positive numbers")
				}
			}
		} else {
			if l.Period != "" {
				e.add(p+".period", "applies to budgets only")
			}
			if len(l.Prices) > 0 {
				e.add(p+".prices", "apply to budgets only")
			}
		}
		seen := map[string]bool{}
		for j := range l.Overrides {
			o := &l.Overrides[j]
			op := fmt.Sprintf("%s.overrides[%d]", p, j)
			if len(o.Values) == 0 {
				e.add(op+".values", "list the key values (e.g. tenant names) this override applies to")
			}
			for _, v := range o.Values {
				if seen[v] {
					e.add(op+".values", "%q is already overridden in this limit", v)
				}
				seen[v] = true
			}
			switch ok := o.Kind(); {
			case o.Unlimited && ok != "":
				e.add(op, "set unlimited or a quota, not both")
			case !o.Unlimited && ok != kind:
				e.add(op, "set %s (the limit's own quantity) or unlimited", kind)
			case !o.Unlimited:
				if q := o.Quota(kind); q < 0 || math.IsNaN(q) || math.IsInf(q, 0) {
					e.add(op+"."+kind, "must be positive")
				}
			}
		}
	}
}
