// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"cmp"
	"context"
	"crypto/sha1" //nolint:gosec // Redis names scripts by their SHA-1; not a security use.
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/bulwarkai/bulwark/internal/config"
)

// The scripts run the arithmetic of algo.go inside Redis, so that a
// decision over all of a request's counters is one atomic round trip and
// every replica reads the same clock (Redis TIME, not its own). Times are
// milliseconds; budgets are integer micro-units.
//
// ARGV[1] is the claim count; each claim then has five arguments:
// kind (1 bucket, 2 lease, 3 budget), quota, param (bucket window ms, lease
// TTL ms, budget period 1 day / 2 month), cost (bucket, budget) and member
// (lease). The reply is {allowed, denied index, now ms} followed by four
// numbers per claim: remaining, reset ms, retry-after ms, period start.
const luaCommon = `
local function period_bounds(p, sec)
  local day = math.floor(sec / 86400)
  if p == 1 then return day * 86400, (day + 1) * 86400 end
  -- civil_from_days (H. Hinnant), to find the day of the month.
  local z = day + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp + 3
  if mp >= 10 then m = mp - 9 end
  if m <= 2 then y = y + 1 end
  local dim = 31
  if m == 2 then
    dim = 28
    if (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0 then dim = 29 end
  elseif m == 4 or m == 6 or m == 9 or m == 11 then
    dim = 30
  end
  local start = (day - d + 1) * 86400
  return start, start + dim * 86400
end

local function drained(key, quota, window, now)
  local h = redis.call('HMGET', key, 'u', 't')
  local used = tonumber(h[1])
  if not used then return 0 end
  used = used - (now - (tonumber(h[2]) or now)) * quota / window
  if used < 0 then return 0 end
  return used
end

local function put_bucket(key, used, quota, window, now)
  if used <= 0 then
    redis.call('DEL', key)
    return
  end
  redis.call('HSET', key, 'u', string.format('%.17g', used), 't', now)
  redis.call('PEXPIRE', key, math.ceil(used * window / quota) + 1000)
end
`

var acquireScript = newScript(luaCommon + `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local out = {1, -1, now}
local state = {}
for i = 1, n do
  local a = 1 + (i - 1) * 5
  local kind, quota, param, cost = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local key = KEYS[i]
  local fits, remaining, reset, retry, ps = false, 0, 0, 0, 0
  if kind == 1 then
    local used = drained(key, quota, param, now)
    state[i] = used
    fits = used + cost <= quota
    local after = used
    if fits then after = used + cost end
    remaining = math.max(0, math.floor(quota - after))
    reset = math.ceil(after * param / quota)
    if cost > quota then retry = -1 elseif not fits then retry = math.ceil((used + cost - quota) * param / quota) end
  elseif kind == 2 then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    local held = redis.call('ZCARD', key)
    fits = held < quota
    remaining = math.max(0, quota - held)
    if fits then remaining = remaining - 1 else retry = 1000 end
  else
    local start, stop = period_bounds(param, math.floor(now / 1000))
    ps = start
    local h = redis.call('HMGET', key, 'p', 'u')
    local used = 0
    if tonumber(h[1]) == start then used = tonumber(h[2]) or 0 end
    state[i] = used
    fits = used + cost <= quota
    local after = used
    if fits then after = used + cost end
    remaining = math.max(0, quota - after)
    reset = stop * 1000 - now
    if cost > quota then retry = -1 elseif not fits then retry = reset end
  end
  out[#out + 1] = remaining
  out[#out + 1] = reset
  out[#out + 1] = retry
  out[#out + 1] = ps
  if not fits and out[1] == 1 then
    out[1] = 0
    out[2] = i - 1
  end
end
if out[1] == 1 then
  for i = 1, n do
    local a = 1 + (i - 1) * 5
    local kind, quota, param, cost = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
    local key = KEYS[i]
    if kind == 1 then
      put_bucket(key, state[i] + cost, quota, param, now)
    elseif kind == 2 then
      redis.call('ZADD', key, now + param, ARGV[a + 5])
      if redis.call('PTTL', key) < param then redis.call('PEXPIRE', key, param) end
    else
      local ps = out[3 + (i - 1) * 4 + 4]
      local _, stop = period_bounds(param, ps)
      redis.call('HSET', key, 'p', ps, 'u', state[i] + cost)
      -- Kept a day past the period so late settlements still find it.
      redis.call('PEXPIREAT', key, (stop + 86400) * 1000)
    end
  end
end
return out
`)

// settleScript takes five arguments per adjustment: kind, quota, param
// (bucket window ms), delta, and member (lease) or period start (budget).
var settleScript = newScript(luaCommon + `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
for i = 1, n do
  local a = 1 + (i - 1) * 5
  local kind, quota, param, delta = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local key = KEYS[i]
  if kind == 1 then
    if delta ~= 0 then
      put_bucket(key, drained(key, quota, param, now) + delta, quota, param, now)
    end
  elseif kind == 2 then
    redis.call('ZREM', key, ARGV[a + 5])
  else
    local h = redis.call('HMGET', key, 'p', 'u')
    if h[1] and h[1] == ARGV[a + 5] then
      redis.call('HSET', key, 'u', math.max(0, (tonumber(h[2]) or 0) + delta))
    end
  end
end
return n
`)

// script is a Lua script run with EVALSHA, falling back to EVAL when the
// server does not have it cached (a restarted or new cluster node).
type script struct{ src, hash string }

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, hash: hex.EncodeToString(sum[:])}
}

// noRetry marks a command as not to be retried. go-redis's cluster client
// retries a command whose connection broke or timed out after it was sent;
// a script whose reply was lost may have run, and running it again would
// take its claims twice. Redirections (MOVED, ASK) are still followed:
// the node that answers them did not run the script.
type noRetry struct{ *redis.Cmd }

func (noRetry) NoRetry() bool { return true }

// redisStore keeps counters in Redis: one server, or a Redis Cluster.
//
// On a cluster a script may only touch keys of one hash slot, and a
// request's keys fall in one slot per partition value (the identity's, the
// tenant's...). Acquire therefore runs the script once per slot, in slot
// order, and gives back what earlier slots took when a later one refuses
// or fails. With one slot (and always on a single server) a decision is
// one round trip, atomic.
//
// After breakerThreshold consecutive failures a node counts as down: a
// short breaker answers ErrUnavailable at once instead of letting every
// request wait for a timeout, and the first calls after each pause probe
// again, so service recovers by itself. A lone timeout under load fails
// only its own request. On a cluster each master has its own breaker, so
// a dead node fails the requests whose keys it holds and no others.
type redisStore struct {
	client   redis.UniversalClient
	cluster  bool
	addr     string
	prefix   string
	timeout  time.Duration
	failOpen bool
	logger   *slog.Logger
	metrics  *metrics

	// store is the breaker of a single server, and on a cluster of the
	// calls whose node is unknown (the slot map could not be loaded).
	store breaker
	nodes sync.Map // master address -> *breaker (cluster only)
	// downNodes counts open breakers, for the store_up gauge.
	downNodes atomic.Int32
	argsPool  sync.Pool
}

// breaker is the failure state of one Redis server.
type breaker struct {
	addr      string
	failures  atomic.Int32 // consecutive
	downUntil atomic.Int64 // unix nanos; 0 when up
	down      atomic.Bool
	downSince atomic.Int64
}

// breakerPause is how long the store fails fast after an error before
// trying Redis again: short enough to recover within a second of Redis
// returning, long enough to spare a dead Redis from every request's dial.
const breakerPause = 500 * time.Millisecond

// breakerThreshold consecutive failures mark the store down.
const breakerThreshold = 3

// quietRedis replaces go-redis's package logger, which prints pool dial
// failures to stderr with the standard log package: the store reports
// failures itself, once per outage, through slog.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

var quietRedisOnce sync.Once

func newRedisStore(ctx context.Context, cfg *config.LimitStore, logger *slog.Logger, m *metrics) (*redisStore, error) {
	quietRedisOnce.Do(func() { redis.SetLogger(quietRedis{}) })
	rc := cfg.Redis
	timeout := rc.Timeout.D()
	if timeout <= 0 {
		timeout = 250 * time.Millisecond
	}
	var password string
	if rc.PasswordEnv != "" {
		pw, ok := os.LookupEnv(rc.PasswordEnv)
		if !ok {
			return nil, fmt.Errorf("limit store: environment variable %s (limitStore.redis.passwordEnv) is not set", rc.PasswordEnv)
		}
		password = pw
	}
	var tlsConfig *tls.Config
	if rc.TLS {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	// No retries: a retried script whose reply was lost would take its
	// claims twice. The failure mode decides instead.
	maint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	s := &redisStore{
		addr:     rc.Address,
		store:    breaker{addr: rc.Address},
		prefix:   rc.KeyPrefix,
		timeout:  timeout,
		failOpen: cfg.FailureMode == "open",
		metrics:  m,
	}
	if len(rc.Addresses) > 0 {
		s.cluster = true
		s.addr = strings.Join(rc.Addresses, ",")
		s.store.addr = s.addr
		s.client = redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:    rc.Addresses,
			Username: rc.Username,
			Password: password,
			// MOVED and ASK are followed (the script did not run); other
			// errors are not retried, see noRetry.
			MaxRedirects:          3,
			MaxRetries:            -1,
			DialTimeout:           timeout,
			DialerRetries:         1,
			ReadTimeout:           timeout,
			WriteTimeout:          timeout,
			PoolTimeout:           timeout,
			ContextTimeoutEnabled: true,
			DisableIdentity:       true,
			// Scripts go to the master of their keys' slot, as they are;
			// go-redis must not split or fan them out.
			DisableRoutingPolicies:   true,
			TLSConfig:                tlsConfig,
			MaintNotificationsConfig: maint,
		})
	} else {
		s.client = redis.NewClient(&redis.Options{
			Addr:                     rc.Address,
			Username:                 rc.Username,
			Password:                 password,
			DB:                       rc.DB,
			MaxRetries:               -1,
			DialTimeout:              timeout,
			DialerRetries:            1,
			ReadTimeout:              timeout,
			WriteTimeout:             timeout,
			PoolTimeout:              timeout,
			ContextTimeoutEnabled:    true,
			DisableIdentity:          true,
			TLSConfig:                tlsConfig,
			MaintNotificationsConfig: maint,
		})
	}
	mode := "single"
	if s.cluster {
		mode = "cluster"
	}
	s.logger = logger.With("store", "redis", "address", s.addr, "mode", mode)
	s.argsPool.New = func() any { a := make([]any, 0, 24); return &a }
	m.storeUp.WithLabelValues("redis").Set(1)
	// A Redis that is down at start must not keep the gateway down: the
	// failure mode applies until it comes back. Say so once, and load the
	// scripts while at it (on every master of a cluster).
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.load(pctx); err != nil {
		s.failed(&s.store, err)
	}
	return s, nil
}

func (s *redisStore) load(ctx context.Context) error {
	if err := s.client.ScriptLoad(ctx, acquireScript.src).Err(); err != nil {
		return err
	}
	return s.client.ScriptLoad(ctx, settleScript.src).Err()
}

func (s *redisStore) Name() string   { return "redis" }
func (s *redisStore) FailOpen() bool { return s.failOpen }
func (s *redisStore) Close() error   { return s.client.Close() }

// eval runs sc once. args starts with two free slots for the command and
// the script; the rest is numkeys, the keys and the arguments.
func (s *redisStore) eval(ctx context.Context, sc *script, args []any) *redis.Cmd {
	args[0], args[1] = "evalsha", sc.hash
	cmd := redis.NewCmd(ctx, args...)
	_ = s.client.Process(ctx, noRetry{cmd})
	if err := cmd.Err(); err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")) {
		args[0], args[1] = "eval", sc.src
		cmd = redis.NewCmd(ctx, args...)
		_ = s.client.Process(ctx, noRetry{cmd})
	}
	return cmd
}

func (s *redisStore) Acquire(ctx context.Context, claims []Claim) (Verdict, error) {
	if len(claims) == 0 {
		return Verdict{Allowed: true, Denied: -1}, nil
	}
	v := Verdict{Denied: -1, Results: make([]ClaimResult, len(claims))}
	if !s.cluster || len(claims) < 2 {
		if err := s.acquireSlot(ctx, claims, nil, &v); err != nil {
			return Verdict{}, err
		}
		return v, nil
	}
	order, slots := slotOrder(claims, func(i int) string { return claims[i].Key })
	if slots[order[0]] == slots[order[len(order)-1]] {
		if err := s.acquireSlot(ctx, claims, nil, &v); err != nil {
			return Verdict{}, err
		}
		return v, nil
	}
	// One script per slot, in slot order: every replica takes a request's
	// slots in the same order. A slot that refuses or fails ends the
	// decision, and what the slots before it took is given back.
	for start := 0; start < len(order); {
		end := nextSlot(order, slots, start)
		err := s.acquireSlot(ctx, claims, order[start:end], &v)
		if err != nil || !v.Allowed {
			s.giveBack(ctx, claims, order[:start], slots, &v)
			for _, i := range order[end:] {
				v.Results[i] = ClaimResult{Skipped: true}
			}
			if err != nil {
				return Verdict{}, err
			}
			return v, nil
		}
		start = end
	}
	return v, nil
}

// slotOrder returns the indexes 0..n-1 of n keys sorted by hash slot (ties
// in their given order) and each index's slot.
func slotOrder[T any](items []T, key func(int) string) (order []int, slots []uint16) {
	order = make([]int, len(items))
	slots = make([]uint16, len(items))
	for i := range items {
		order[i] = i
		slots[i] = keySlot(key(i))
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(slots[a], slots[b]) })
	return order, slots
}

// nextSlot is the end of the run of order, from start, in one slot.
func nextSlot(order []int, slots []uint16, start int) int {
	end := start + 1
	for end < len(order) && slots[order[end]] == slots[order[start]] {
		end++
	}
	return end
}

// acquireSlot runs the acquire script, one round trip, over the claims at
// idx (all claims when idx is nil), which must share a hash slot on a
// cluster. It fills their results in v and sets v.Allowed, and v.Denied to
// the first of them (in claim order) that did not fit.
func (s *redisStore) acquireSlot(ctx context.Context, claims []Claim, idx []int, v *Verdict) error {
	n := len(idx)
	if idx == nil {
		n = len(claims)
	}
	at := func(j int) int {
		if idx == nil {
			return j
		}
		return idx[j]
	}
	b := s.breakerFor(ctx, claims[at(0)].Key)
	if err := b.gate(); err != nil {
		return err
	}
	ap := s.argsPool.Get().(*[]any)
	args := append((*ap)[:0], nil, nil, n)
	for j := range n {
		args = append(args, claims[at(j)].Key)
	}
	args = append(args, n)
	for j := range n {
		c := &claims[at(j)]
		var param int64
		switch c.Kind {
		case Bucket:
			param = c.Window.Milliseconds()
		case Lease:
			param = c.TTL.Milliseconds()
		case Budget:
			param = int64(c.Period)
		}
		args = append(args, int(c.Kind), c.Quota, param, c.Cost, c.Member)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	res, err := s.eval(ctx, acquireScript, args).Int64Slice()
	cancel()
	clear(args)
	*ap = args[:0]
	s.argsPool.Put(ap)
	s.metrics.storeDuration.WithLabelValues("redis", "acquire").Observe(time.Since(start).Seconds())
	if err != nil {
		return s.fail(b, "acquire", err)
	}
	s.ok(b)
	if len(res) != 3+4*n {
		return s.fail(b, "acquire", fmt.Errorf("acquire script returned %d values for %d claims", len(res), n))
	}
	v.Allowed = res[0] == 1
	if !v.Allowed {
		v.Denied = at(int(res[1]))
	}
	for j := range n {
		r := res[3+4*j:]
		cr := ClaimResult{
			Remaining:   r[0],
			Reset:       time.Duration(r[1]) * time.Millisecond,
			RetryAfter:  time.Duration(r[2]) * time.Millisecond,
			PeriodStart: r[3],
		}
		if r[2] < 0 {
			cr.RetryAfter = -1
		}
		v.Results[at(j)] = cr
	}
	return nil
}

// giveBack returns what the claims at taken (sorted by slot) took: the
// compensation of a cluster decision that a later slot refused. It runs
// even when the request's context is done, since the capacity is held
// until it does. If it fails the claims stay taken: buckets drain within
// their window, leases expire, budgets stay charged for the period; that
// under-admits, never over-admits.
func (s *redisStore) giveBack(ctx context.Context, claims []Claim, taken []int, slots []uint16, v *Verdict) {
	if len(taken) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	adj := make([]Adjustment, len(taken))
	for j, i := range taken {
		c := &claims[i]
		adj[j] = Adjustment{Kind: c.Kind, Key: c.Key, Quota: c.Quota, Window: c.Window, Delta: -c.Cost, Member: c.Member, PeriodStart: v.Results[i].PeriodStart}
	}
	var errs []error
	for start := 0; start < len(taken); {
		end := nextSlot(taken, slots, start)
		if err := s.settleSlot(ctx, "refund", adj[start:end]); err != nil {
			errs = append(errs, err)
		}
		start = end
	}
	if err := errors.Join(errs...); err != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "limits: giving back a refused request's claims failed; they stay taken until they drain or expire",
			slog.Int("claims", len(taken)), slog.String("error", err.Error()))
	}
}

func (s *redisStore) Settle(ctx context.Context, adj []Adjustment) error {
	if len(adj) == 0 {
		return nil
	}
	if !s.cluster || len(adj) < 2 {
		return s.settleSlot(ctx, "settle", adj)
	}
	order, slots := slotOrder(adj, func(i int) string { return adj[i].Key })
	if slots[order[0]] == slots[order[len(order)-1]] {
		return s.settleSlot(ctx, "settle", adj)
	}
	sorted := make([]Adjustment, len(adj))
	for j, i := range order {
		sorted[j] = adj[i]
	}
	// Every slot is settled even if another fails: each is independent.
	var errs []error
	for start := 0; start < len(order); {
		end := nextSlot(order, slots, start)
		if err := s.settleSlot(ctx, "settle", sorted[start:end]); err != nil {
			errs = append(errs, err)
		}
		start = end
	}
	return errors.Join(errs...)
}

// settleSlot runs the settle script over adj, one round trip; on a cluster
// adj must share a hash slot.
func (s *redisStore) settleSlot(ctx context.Context, op string, adj []Adjustment) error {
	b := s.breakerFor(ctx, adj[0].Key)
	if err := b.gate(); err != nil {
		return err
	}
	args := make([]any, 0, 4+6*len(adj))
	args = append(args, nil, nil, len(adj))
	for i := range adj {
		args = append(args, adj[i].Key)
	}
	args = append(args, len(adj))
	for i := range adj {
		a := &adj[i]
		var last any = a.Member
		if a.Kind == Budget {
			last = strconv.FormatInt(a.PeriodStart, 10)
		}
		args = append(args, int(a.Kind), a.Quota, a.Window.Milliseconds(), a.Delta, last)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := s.eval(ctx, settleScript, args).Err()
	s.metrics.storeDuration.WithLabelValues("redis", op).Observe(time.Since(start).Seconds())
	if err != nil {
		return s.fail(b, op, err)
	}
	s.ok(b)
	return nil
}

// breakerFor returns the breaker of the server that holds key: the master
// of its slot on a cluster, the one server otherwise.
func (s *redisStore) breakerFor(ctx context.Context, key string) *breaker {
	cc, ok := s.client.(*redis.ClusterClient)
	if !ok {
		return &s.store
	}
	node, err := cc.MasterForKey(ctx, key)
	if err != nil {
		return &s.store
	}
	addr := node.Options().Addr
	if b, ok := s.nodes.Load(addr); ok {
		return b.(*breaker)
	}
	b, _ := s.nodes.LoadOrStore(addr, &breaker{addr: addr})
	return b.(*breaker)
}

// gate fails fast while the breaker is open.
func (b *breaker) gate() error {
	if until := b.downUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return fmt.Errorf("%w: redis %s: waiting before retrying", ErrUnavailable, b.addr)
	}
	return nil
}

func (s *redisStore) fail(b *breaker, op string, err error) error {
	if errors.Is(err, context.Canceled) {
		// The client went away; Redis may be fine.
		return err
	}
	s.metrics.storeErrors.WithLabelValues("redis", op).Inc()
	if b.failures.Add(1) >= breakerThreshold {
		s.failed(b, err)
	}
	return fmt.Errorf("%w: redis %s: %s: %w", ErrUnavailable, b.addr, op, err)
}

func (s *redisStore) failed(b *breaker, err error) {
	b.downUntil.Store(time.Now().Add(breakerPause).UnixNano())
	if b.down.CompareAndSwap(false, true) {
		b.downSince.Store(time.Now().UnixNano())
		if s.downNodes.Add(1) == 1 {
			s.metrics.storeUp.WithLabelValues("redis").Set(0)
		}
		mode := "closed"
		if s.failOpen {
			mode = "open"
		}
		s.logger.Error("limit store unreachable", "node", b.addr, "error", err.Error(), "failure_mode", mode)
	}
}

func (s *redisStore) ok(b *breaker) {
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
	if b.down.Load() && b.down.CompareAndSwap(true, false) {
		b.downUntil.Store(0)
		if s.downNodes.Add(-1) == 0 {
			s.metrics.storeUp.WithLabelValues("redis").Set(1)
		}
		s.logger.Info("limit store recovered", "node", b.addr, "down_for", time.Since(time.Unix(0, b.downSince.Load())).String())
	}
	// On a cluster, an answer from any node also clears the breaker of
	// calls whose node was unknown (or of a cluster down at start).
	if b != &s.store && s.store.down.Load() {
		s.ok(&s.store)
	}
}
