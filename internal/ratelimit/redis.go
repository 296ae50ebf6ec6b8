// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
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

var acquireScript = redis.NewScript(luaCommon + `
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
var settleScript = redis.NewScript(luaCommon + `
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

// redisStore keeps counters in Redis. After breakerThreshold consecutive
// failures the store counts as down: a short breaker answers
// ErrUnavailable at once instead of letting every request wait for a
// timeout, and the first calls after each pause probe again, so service
// recovers by itself. A lone timeout under load fails only its own request.
type redisStore struct {
	client   *redis.Client
	addr     string
	prefix   string
	timeout  time.Duration
	failOpen bool
	logger   *slog.Logger
	metrics  *metrics

	failures  atomic.Int32 // consecutive
	downUntil atomic.Int64 // unix nanos; 0 when up
	down      atomic.Bool
	downSince atomic.Int64
	argsPool  sync.Pool
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
	opt := &redis.Options{
		Addr:     rc.Address,
		Username: rc.Username,
		DB:       rc.DB,
		// No retries: a retried script whose reply was lost would take its
		// claims twice. The failure mode decides instead.
		MaxRetries:            -1,
		DialTimeout:           timeout,
		DialerRetries:         1,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           timeout,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
	if rc.PasswordEnv != "" {
		pw, ok := os.LookupEnv(rc.PasswordEnv)
		if !ok {
			return nil, fmt.Errorf("limit store: environment variable %s (limitStore.redis.passwordEnv) is not set", rc.PasswordEnv)
		}
		opt.Password = pw
	}
	if rc.TLS {
		opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	s := &redisStore{
		client:   redis.NewClient(opt),
		addr:     rc.Address,
		prefix:   rc.KeyPrefix,
		timeout:  timeout,
		failOpen: cfg.FailureMode == "open",
		logger:   logger.With("store", "redis", "address", rc.Address),
		metrics:  m,
	}
	s.argsPool.New = func() any { a := make([]any, 0, 16); return &a }
	m.storeUp.WithLabelValues("redis").Set(1)
	// A Redis that is down at start must not keep the gateway down: the
	// failure mode applies until it comes back. Say so once, and load the
	// scripts while at it.
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.load(pctx); err != nil {
		s.failed(err)
	}
	return s, nil
}

func (s *redisStore) load(ctx context.Context) error {
	if err := acquireScript.Load(ctx, s.client).Err(); err != nil {
		return err
	}
	return settleScript.Load(ctx, s.client).Err()
}

func (s *redisStore) Name() string   { return "redis" }
func (s *redisStore) FailOpen() bool { return s.failOpen }
func (s *redisStore) Close() error   { return s.client.Close() }

func (s *redisStore) Acquire(ctx context.Context, claims []Claim) (Verdict, error) {
	if err := s.gate(); err != nil {
		return Verdict{}, err
	}
	keys := make([]string, len(claims))
	ap := s.argsPool.Get().(*[]any)
	args := append((*ap)[:0], len(claims))
	for i := range claims {
		c := &claims[i]
		keys[i] = c.Key
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
	res, err := acquireScript.Run(ctx, s.client, keys, args...).Int64Slice()
	cancel()
	clear(args)
	*ap = args[:0]
	s.argsPool.Put(ap)
	s.metrics.storeDuration.WithLabelValues("redis", "acquire").Observe(time.Since(start).Seconds())
	if err != nil {
		return Verdict{}, s.fail("acquire", err)
	}
	s.ok()
	if len(res) != 3+4*len(claims) {
		return Verdict{}, s.fail("acquire", fmt.Errorf("acquire script returned %d values for %d claims", len(res), len(claims)))
	}
	v := Verdict{Allowed: res[0] == 1, Denied: int(res[1]), Results: make([]ClaimResult, len(claims))}
	for i := range claims {
		r := res[3+4*i:]
		v.Results[i] = ClaimResult{
			Remaining:   r[0],
			Reset:       time.Duration(r[1]) * time.Millisecond,
			RetryAfter:  time.Duration(r[2]) * time.Millisecond,
			PeriodStart: r[3],
		}
		if r[2] < 0 {
			v.Results[i].RetryAfter = -1
		}
	}
	return v, nil
}

func (s *redisStore) Settle(ctx context.Context, adj []Adjustment) error {
	if len(adj) == 0 {
		return nil
	}
	if err := s.gate(); err != nil {
		return err
	}
	keys := make([]string, len(adj))
	args := make([]any, 0, 1+5*len(adj))
	args = append(args, len(adj))
	for i := range adj {
		a := &adj[i]
		keys[i] = a.Key
		var last any = a.Member
		if a.Kind == Budget {
			last = strconv.FormatInt(a.PeriodStart, 10)
		}
		args = append(args, int(a.Kind), a.Quota, a.Window.Milliseconds(), a.Delta, last)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := settleScript.Run(ctx, s.client, keys, args...).Err()
	s.metrics.storeDuration.WithLabelValues("redis", "settle").Observe(time.Since(start).Seconds())
	if err != nil {
		return s.fail("settle", err)
	}
	s.ok()
	return nil
}

// gate fails fast while the breaker is open.
func (s *redisStore) gate() error {
	if until := s.downUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return fmt.Errorf("%w: redis %s: waiting before retrying", ErrUnavailable, s.addr)
	}
	return nil
}

func (s *redisStore) fail(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		// The client went away; Redis may be fine.
		return err
	}
	s.metrics.storeErrors.WithLabelValues("redis", op).Inc()
	if s.failures.Add(1) >= breakerThreshold {
		s.failed(err)
	}
	return fmt.Errorf("%w: redis %s: %s: %w", ErrUnavailable, s.addr, op, err)
}

func (s *redisStore) failed(err error) {
	s.downUntil.Store(time.Now().Add(breakerPause).UnixNano())
	if s.down.CompareAndSwap(false, true) {
		s.downSince.Store(time.Now().UnixNano())
		s.metrics.storeUp.WithLabelValues("redis").Set(0)
		mode := "closed"
		if s.failOpen {
			mode = "open"
		}
		s.logger.Error("limit store unreachable", "error", err.Error(), "failure_mode", mode)
	}
}

func (s *redisStore) ok() {
	if s.failures.Load() != 0 {
		s.failures.Store(0)
	}
	if s.down.Load() && s.down.CompareAndSwap(true, false) {
		s.downUntil.Store(0)
		s.metrics.storeUp.WithLabelValues("redis").Set(1)
		s.logger.Info("limit store recovered", "down_for", time.Since(time.Unix(0, s.downSince.Load())).String())
	}
}
