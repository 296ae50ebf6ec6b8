// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/testutil"
)

// storeUnderTest opens each store kind; the same cases run on both so the
// Lua scripts and the Go arithmetic cannot drift apart.
func storesUnderTest(t *testing.T) map[string]func(t *testing.T) Store {
	return map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store { return NewMemoryStore() },
		"redis": func(t *testing.T) Store {
			r := startRedis(t)
			s, err := NewStore(t.Context(), redisConfig(r.Addr, "closed"), nil, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"redis-cluster": func(t *testing.T) Store {
			c := startRedisCluster(t)
			s, err := NewStore(t.Context(), clusterConfig(c.Addrs, "closed"), nil, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
}

func TestStoreConformance(t *testing.T) {
	type step struct {
		claims  []Claim
		settle  []Adjustment
		allowed bool
		denied  int
		// remaining per claim, checked when not nil.
		remaining []int64
	}
	bucket := func(key string, quota, cost int64) Claim {
		return Claim{Kind: Bucket, Key: "t:{a}:" + key, Quota: quota, Window: time.Hour, Cost: cost}
	}
	budget := func(key string, quota, cost int64) Claim {
		return Claim{Kind: Budget, Key: "t:{a}:" + key, Quota: quota, Period: Day, Cost: cost}
	}
	inSlot := func(tag string, c Claim) Claim {
		c.Key = strings.Replace(c.Key, "{a}", "{"+tag+"}", 1)
		return c
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "bucket allows quota then refuses",
			steps: []step{
				{claims: []Claim{bucket("b", 3, 1)}, allowed: true, denied: -1, remaining: []int64{2}},
				{claims: []Claim{bucket("b", 3, 2)}, allowed: true, denied: -1, remaining: []int64{0}},
				{claims: []Claim{bucket("b", 3, 1)}, allowed: false, denied: 0, remaining: []int64{0}},
			},
		},
		{
			name: "all or nothing across claims",
			steps: []step{
				{claims: []Claim{bucket("x", 10, 4), bucket("y", 5, 6)}, allowed: false, denied: 1, remaining: []int64{6, 5}},
				{claims: []Claim{bucket("x", 10, 10)}, allowed: true, denied: -1, remaining: []int64{0}},
			},
		},
		{
			// Tags b and a fall in different cluster slots, b's first: the
			// cluster store takes x, is refused on y and gives x back.
			name: "all or nothing across slots",
			steps: []step{
				{claims: []Claim{inSlot("b", bucket("x", 10, 4)), inSlot("a", bucket("y", 5, 6))}, allowed: false, denied: 1, remaining: []int64{6, 5}},
				{claims: []Claim{inSlot("b", bucket("x", 10, 10))}, allowed: true, denied: -1, remaining: []int64{0}},
			},
		},
		{
			name: "refund makes room and debt blocks",
			steps: []step{
				{claims: []Claim{bucket("r", 100, 100)}, allowed: true, denied: -1, remaining: []int64{0}},
				{settle: []Adjustment{{Kind: Bucket, Key: "t:{a}:r", Quota: 100, Window: time.Hour, Delta: -60}}},
				{claims: []Claim{bucket("r", 100, 60)}, allowed: true, denied: -1, remaining: []int64{0}},
				{settle: []Adjustment{{Kind: Bucket, Key: "t:{a}:r", Quota: 100, Window: time.Hour, Delta: 50}}},
				{claims: []Claim{bucket("r", 100, 0)}, allowed: false, denied: 0, remaining: []int64{0}},
			},
		},
		{
			name: "raised quota applies at once",
			steps: []step{
				{claims: []Claim{bucket("q", 10, 10)}, allowed: true, denied: -1},
				{claims: []Claim{bucket("q", 10, 1)}, allowed: false, denied: 0},
				{claims: []Claim{bucket("q", 20, 5)}, allowed: true, denied: -1, remaining: []int64{5}},
			},
		},
		{
			name: "request larger than quota",
			steps: []step{
				{claims: []Claim{bucket("l", 10, 11)}, allowed: false, denied: 0, remaining: []int64{10}},
			},
		},
		{
			name: "leases",
			steps: []step{
				{claims: []Claim{{Kind: Lease, Key: "t:{a}:c", Quota: 2, TTL: time.Minute, Member: "m1"}}, allowed: true, denied: -1, remaining: []int64{1}},
				{claims: []Claim{{Kind: Lease, Key: "t:{a}:c", Quota: 2, TTL: time.Minute, Member: "m2"}}, allowed: true, denied: -1, remaining: []int64{0}},
				{claims: []Claim{{Kind: Lease, Key: "t:{a}:c", Quota: 2, TTL: time.Minute, Member: "m3"}}, allowed: false, denied: 0, remaining: []int64{0}},
				{settle: []Adjustment{{Kind: Lease, Key: "t:{a}:c", Member: "m1"}}},
				{claims: []Claim{{Kind: Lease, Key: "t:{a}:c", Quota: 2, TTL: time.Minute, Member: "m4"}}, allowed: true, denied: -1, remaining: []int64{0}},
			},
		},
		{
			name: "budget",
			steps: []step{
				{claims: []Claim{budget("m", 1000, 600)}, allowed: true, denied: -1, remaining: []int64{400}},
				{claims: []Claim{budget("m", 1000, 600)}, allowed: false, denied: 0, remaining: []int64{400}},
				// A settlement for another period changes nothing.
				{settle: []Adjustment{{Kind: Budget, Key: "t:{a}:m", Delta: -600, PeriodStart: 1}}},
				{claims: []Claim{budget("m", 1000, 600)}, allowed: false, denied: 0},
			},
		},
	}
	for storeName, open := range storesUnderTest(t) {
		t.Run(storeName, func(t *testing.T) {
			s := open(t)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					// Each case gets its own keys.
					prefix := fmt.Sprintf("%s-%d:", tt.name, time.Now().UnixNano())
					var lastBudget int64
					for i, st := range tt.steps {
						if st.settle != nil {
							adj := append([]Adjustment(nil), st.settle...)
							for j := range adj {
								adj[j].Key = prefix + adj[j].Key
							}
							if err := s.Settle(t.Context(), adj); err != nil {
								t.Fatalf("step %d: Settle: %v", i, err)
							}
							continue
						}
						claims := append([]Claim(nil), st.claims...)
						for j := range claims {
							claims[j].Key = prefix + claims[j].Key
						}
						v, err := s.Acquire(t.Context(), claims)
						if err != nil {
							t.Fatalf("step %d: Acquire: %v", i, err)
						}
						if v.Allowed != st.allowed || v.Denied != st.denied {
							t.Fatalf("step %d: Acquire = allowed %v denied %d, want %v %d", i, v.Allowed, v.Denied, st.allowed, st.denied)
						}
						if st.remaining != nil {
							got := make([]int64, len(v.Results))
							for j, r := range v.Results {
								got[j] = r.Remaining
							}
							if diff := cmp.Diff(st.remaining, got); diff != "" {
								t.Fatalf("step %d: remaining (-want +got):\n%s", i, diff)
							}
						}
						for j, c := range claims {
							r := v.Results[j]
							switch {
							case c.Cost > c.Quota && r.RetryAfter != -1:
								t.Errorf("step %d: RetryAfter = %v for cost above quota, want -1", i, r.RetryAfter)
							case !v.Allowed && j == v.Denied && c.Cost <= c.Quota && r.RetryAfter <= 0:
								t.Errorf("step %d: RetryAfter = %v for a refusal, want > 0", i, r.RetryAfter)
							}
							if c.Kind == Budget {
								if lastBudget != 0 && r.PeriodStart != lastBudget {
									t.Errorf("step %d: PeriodStart moved from %d to %d", i, lastBudget, r.PeriodStart)
								}
								lastBudget = r.PeriodStart
								start, _ := periodBounds(Day, time.Now())
								if r.PeriodStart != start.Unix() {
									t.Errorf("step %d: PeriodStart = %d, want %d", i, r.PeriodStart, start.Unix())
								}
							}
						}
					}
				})
			}
			t.Run("budget refund in its period", func(t *testing.T) {
				key := fmt.Sprintf("t:{a}:refund-%d", time.Now().UnixNano())
				c := []Claim{{Kind: Budget, Key: key, Quota: 100, Period: Month, Cost: 80}}
				v, err := s.Acquire(t.Context(), c)
				if err != nil || !v.Allowed {
					t.Fatalf("Acquire = %+v, %v", v, err)
				}
				if err := s.Settle(t.Context(), []Adjustment{{Kind: Budget, Key: key, Delta: -70, PeriodStart: v.Results[0].PeriodStart}}); err != nil {
					t.Fatal(err)
				}
				v, err = s.Acquire(t.Context(), []Claim{{Kind: Budget, Key: key, Quota: 100, Period: Month, Cost: 90}})
				if err != nil || !v.Allowed || v.Results[0].Remaining != 0 {
					t.Fatalf("Acquire after refund = %+v, %v; want allowed with 0 remaining", v, err)
				}
			})
			t.Run("lease expires", func(t *testing.T) {
				key := fmt.Sprintf("t:{a}:ttl-%d", time.Now().UnixNano())
				c := []Claim{{Kind: Lease, Key: key, Quota: 1, TTL: 50 * time.Millisecond, Member: "a"}}
				if v, err := s.Acquire(t.Context(), c); err != nil || !v.Allowed {
					t.Fatalf("Acquire = %+v, %v", v, err)
				}
				c[0].Member = "b"
				testutil.WaitFor(t, 5*time.Second, "the lease to expire", func() bool {
					v, err := s.Acquire(t.Context(), c)
					return err == nil && v.Allowed
				})
			})
			t.Run("bucket refills", func(t *testing.T) {
				key := fmt.Sprintf("t:{a}:refill-%d", time.Now().UnixNano())
				c := []Claim{{Kind: Bucket, Key: key, Quota: 2, Window: 100 * time.Millisecond, Cost: 2}}
				if v, err := s.Acquire(t.Context(), c); err != nil || !v.Allowed {
					t.Fatalf("Acquire = %+v, %v", v, err)
				}
				testutil.WaitFor(t, 5*time.Second, "the bucket to refill", func() bool {
					v, err := s.Acquire(t.Context(), c)
					return err == nil && v.Allowed
				})
			})
			t.Run("concurrent burst takes exactly the quota", func(t *testing.T) {
				key := fmt.Sprintf("t:{a}:burst-%d", time.Now().UnixNano())
				const quota, clients = 50, 200
				var allowed atomic.Int64
				var wg sync.WaitGroup
				errs := make(chan error, clients)
				for range clients {
					wg.Go(func() {
						v, err := s.Acquire(context.WithoutCancel(t.Context()), []Claim{{Kind: Bucket, Key: key, Quota: quota, Window: time.Hour, Cost: 1}})
						if err != nil {
							errs <- err
							return
						}
						if v.Allowed {
							allowed.Add(1)
						}
					})
				}
				wg.Wait()
				close(errs)
				if err := errors.Join(func() (e []error) {
					for err := range errs {
						e = append(e, err)
					}
					return
				}()...); err != nil {
					t.Fatal(err)
				}
				if got := allowed.Load(); got != quota {
					t.Errorf("allowed %d of %d, want exactly %d", got, clients, quota)
				}
			})
		})
	}
}

func TestPeriodBounds(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name        string
		period      Period
		now         string
		start, stop string
	}{
		{"day", Day, "2025-03-10T13:14:15Z", "2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z"},
		{"day in another zone", Day, "2025-03-10T01:00:00+02:00", "2025-03-09T00:00:00Z", "2025-03-10T00:00:00Z"},
		{"month", Month, "2025-03-31T23:59:59Z", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"},
		{"leap february", Month, "2024-02-29T12:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"december", Month, "2025-12-15T00:00:00Z", "2025-12-01T00:00:00Z", "2026-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, stop := periodBounds(tt.period, at(tt.now))
			if !start.Equal(at(tt.start)) || !stop.Equal(at(tt.stop)) {
				t.Errorf("periodBounds(%v, %s) = %s, %s; want %s, %s", tt.period, tt.now, start, stop, tt.start, tt.stop)
			}
		})
	}
}

// TestRedisPeriodBounds checks the Lua calendar arithmetic against Go's for
// every month boundary over several years, leap years included.
func TestRedisPeriodBounds(t *testing.T) {
	r := startRedis(t)
	s, err := NewStore(t.Context(), redisConfig(r.Addr, "closed"), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs := s.(*redisStore)
	script := luaCommon + `
local out = {}
for i = 1, #ARGV do
  local a, b = period_bounds(2, tonumber(ARGV[i]))
  out[#out + 1] = a
  out[#out + 1] = b
end
return out`
	var args []any
	var want []int64
	for y := 1999; y <= 2101; y++ {
		for m := time.January; m <= time.December; m++ {
			for _, d := range []int{1, 15, 28} {
				now := time.Date(y, m, d, 23, 59, 59, 0, time.UTC)
				start, stop := periodBounds(Month, now)
				args = append(args, now.Unix())
				want = append(want, start.Unix(), stop.Unix())
			}
		}
	}
	got, err := rs.client.Eval(t.Context(), script, nil, args...).Int64Slice()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lua month bounds differ from Go (-want +got):\n%s", diff)
	}
}
