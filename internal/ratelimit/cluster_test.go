// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/testutil"
)

// TestRedisCluster runs the store and the stage against a real
// three-master Redis Cluster: keys of one request land in several slots,
// each decision runs one script per slot, and a slot that refuses gives
// back what earlier slots took.
func TestRedisCluster(t *testing.T) {
	c := startRedisCluster(t)
	openStore := func(t *testing.T) *redisStore {
		s, err := NewStore(t.Context(), clusterConfig(c.Addrs, "closed"), nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s.(*redisStore)
	}

	t.Run("key slots match CLUSTER KEYSLOT", func(t *testing.T) {
		keys := []string{"", "a", "{a}x", "t:{b}:y", "{}x", "x{}{b}", "{user1000}.following", "a{b", "a}b{c}",
			"bulwark:{" + hashTag(keyIdentity, "alice") + "}:r:rpm", "ключ", "{ключ}z"}
		for _, k := range keys {
			want, err := c.Client.ClusterKeySlot(t.Context(), k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got := keySlot(k); int64(got) != want {
				t.Errorf("keySlot(%q) = %d, want %d", k, got, want)
			}
		}
	})

	// lo and hi are hash tags whose slots sort lo first.
	const lo, hi = "b", "a"
	if keySlot("{"+lo+"}") >= keySlot("{"+hi+"}") {
		t.Fatalf("slot of {%s} = %d, not below slot of {%s} = %d", lo, keySlot("{"+lo+"}"), hi, keySlot("{"+hi+"}"))
	}

	t.Run("a refused later slot gives back the earlier one", func(t *testing.T) {
		s := openStore(t)
		ctx := t.Context()
		p := fmt.Sprintf("giveback-%d:", time.Now().UnixNano())
		reqKey, leaseKey, budgetKey := p+"{"+lo+"}:rpm", p+"{"+lo+"}:inflight", p+"{"+lo+"}:spend"
		fullKey := p + "{" + hi + "}:tpm"
		rpm := Claim{Kind: Bucket, Key: reqKey, Quota: 10, Window: 31 * 24 * time.Hour, Cost: 1}
		lease := Claim{Kind: Lease, Key: leaseKey, Quota: 5, TTL: time.Hour}
		spend := Claim{Kind: Budget, Key: budgetKey, Quota: 1000, Period: Month}
		full := Claim{Kind: Bucket, Key: fullKey, Quota: 100, Window: 31 * 24 * time.Hour, Cost: 100}
		// Earlier state: 3 requests, one lease, 100 spent, the token bucket full.
		for i := range 3 {
			lease.Member = "before-" + strconv.Itoa(i)
			claims := []Claim{rpm}
			if i == 0 {
				spend.Cost = 100
				claims = append(claims, lease, spend, full)
			}
			if v, err := s.Acquire(ctx, claims); err != nil || !v.Allowed {
				t.Fatalf("setup Acquire = %+v, %v", v, err)
			}
		}
		before := snapshot(t, c.Client, reqKey, leaseKey, budgetKey)

		// The refusing claim comes first in the request but its slot comes
		// last: the earlier slot is taken, then given back.
		lease.Member, spend.Cost, full.Cost = "refused", 50, 10
		v, err := s.Acquire(ctx, []Claim{full, rpm, lease, spend})
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed || v.Denied != 0 {
			t.Fatalf("Acquire = allowed %v denied %d, want refused at claim 0", v.Allowed, v.Denied)
		}
		if v.Results[0].RetryAfter <= 0 {
			t.Errorf("RetryAfter of the refused claim = %v, want > 0", v.Results[0].RetryAfter)
		}
		after := snapshot(t, c.Client, reqKey, leaseKey, budgetKey)
		if math.Abs(after.used-before.used) > 1e-3 {
			t.Errorf("request bucket used = %v after the refusal, want %v (given back)", after.used, before.used)
		}
		if after.leases != before.leases || after.spent != before.spent {
			t.Errorf("after the refusal: %d leases, %s spent; want %d, %s (given back)", after.leases, after.spent, before.leases, before.spent)
		}
		if _, err := c.Client.ZScore(ctx, leaseKey, "refused").Result(); err != redis.Nil {
			t.Errorf("ZSCORE of the refused lease = %v, want redis.Nil", err)
		}
	})

	t.Run("a refusal in the first slot skips the later ones", func(t *testing.T) {
		s := openStore(t)
		p := fmt.Sprintf("skip-%d:", time.Now().UnixNano())
		first := Claim{Kind: Bucket, Key: p + "{" + lo + "}:rpm", Quota: 1, Window: time.Hour, Cost: 1}
		later := Claim{Kind: Bucket, Key: p + "{" + hi + "}:tpm", Quota: 100, Window: time.Hour, Cost: 10}
		if v, err := s.Acquire(t.Context(), []Claim{first}); err != nil || !v.Allowed {
			t.Fatalf("setup Acquire = %+v, %v", v, err)
		}
		v, err := s.Acquire(t.Context(), []Claim{later, first})
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed || v.Denied != 1 || !v.Results[0].Skipped || v.Results[1].Skipped {
			t.Fatalf("Acquire = %+v, want refused at claim 1 with claim 0 skipped", v)
		}
		if n, err := c.Client.Exists(t.Context(), later.Key).Result(); err != nil || n != 0 {
			t.Errorf("EXISTS %s = %d, %v; want 0 (never touched)", later.Key, n, err)
		}
	})

	t.Run("identity and tenant limits on different slots", func(t *testing.T) {
		up := newMockLLM(t)
		route := config.Route{Name: "keys", Timeout: config.Duration(time.Minute), Limits: []config.Limit{
			{Name: "rpm", Key: "identity", Requests: 5, Window: config.Duration(time.Minute)},
			// A long window: the stored usage barely drains while checked.
			{Name: "tpm", Key: "tenant", Tokens: 100000, Window: config.Duration(31 * 24 * time.Hour)},
			{Name: "inflight", Key: "identity", Concurrency: 2},
		}}
		g := newGateway(t, route, clusterConfig(c.Addrs, "closed"), up.URL)
		idKey := "bulwark:{" + hashTag(keyIdentity, "alice") + "}:keys:rpm"
		leaseKey := "bulwark:{" + hashTag(keyIdentity, "alice") + "}:keys:inflight"
		tenantKey := "bulwark:{" + hashTag(keyTenant, "acme") + "}:keys:tpm"
		idSlot, err := c.Client.ClusterKeySlot(t.Context(), idKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		tenantSlot, err := c.Client.ClusterKeySlot(t.Context(), tenantKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		if idSlot == tenantSlot {
			t.Fatalf("identity and tenant keys share slot %d; the test needs two slots", idSlot)
		}
		res, body := chatAs(t, g.URL, "alice", "acme", chatBody(100, false, "hello"))
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200: %s\n%s", res.StatusCode, body, g.Log.String())
		}
		if got := res.Header.Get(HeaderState); !strings.Contains(got, `"rpm";r=4`) || !strings.Contains(got, `"tpm";r=`) {
			t.Errorf("%s = %q, want rpm and tpm state", HeaderState, got)
		}
		// Settled on both slots: 110 tokens charged (10 prompt + 100
		// completion, the mock's usage), the lease released.
		testutil.WaitFor(t, 5*time.Second, "the tenant's tokens to settle to 110", func() bool {
			used, err := c.Client.HGet(t.Context(), tenantKey, "u").Float64()
			return err == nil && used > 109 && used <= 110
		})
		if n, err := c.Client.Exists(t.Context(), idKey).Result(); err != nil || n != 1 {
			t.Errorf("EXISTS identity rpm key = %d, %v; want 1", n, err)
		}
		testutil.WaitFor(t, 5*time.Second, "the lease to be released", func() bool {
			n, err := c.Client.ZCard(t.Context(), leaseKey).Result()
			return err == nil && n == 0
		})
	})

	t.Run("replicas allow exactly the quota of a burst", func(t *testing.T) {
		up := newMockLLM(t)
		const quota, clients = 20, 90
		route := config.Route{Name: "burst", Timeout: config.Duration(time.Minute), Limits: []config.Limit{
			{Name: "rpm", Key: "identity", Requests: quota, Window: config.Duration(time.Hour)},
			{Name: "tpm", Key: "tenant", Tokens: 1 << 40, Window: config.Duration(time.Hour)},
		}}
		var gws []*gateway
		for range 3 {
			gws = append(gws, newGateway(t, route, clusterConfig(c.Addrs, "closed"), up.URL))
		}
		codes := burst(t, clients, func(i int) string { return gws[i%len(gws)].URL }, func(int) (string, string) { return "bob", "acme" }, chatBody(16, false, "hi"))
		if codes[http.StatusOK] != quota || codes[http.StatusTooManyRequests] != clients-quota {
			t.Errorf("burst of %d over 3 replicas: %v, want exactly %d × 200 and the rest 429", clients, codes, quota)
		}
	})

	t.Run("tokens never overshoot across slots", func(t *testing.T) {
		up := newMockLLM(t)
		// The prompt is reported below its estimate, so no request uses
		// more than it reserved and the bound has no shortfall term.
		up.PromptTokens = func(*llm.Request, int) int64 { return 1 }
		const quota, perIdentity, identities, each = 2000, 3, 12, 6
		window := time.Hour
		route := config.Route{Name: "tokens", Timeout: config.Duration(time.Minute), Limits: []config.Limit{
			{Name: "rpm", Key: "identity", Requests: perIdentity, Window: config.Duration(window)},
			{Name: "tpm", Key: "tenant", Tokens: quota, Window: config.Duration(window)},
		}}
		var gws []*gateway
		for range 3 {
			gws = append(gws, newGateway(t, route, clusterConfig(c.Addrs, "closed"), up.URL))
		}
		// Identities land on slots both below and above the tenant's, so
		// either claim may be the one taken first and given back.
		tenantSlot := keySlot(hashTag(keyTenant, "acme"))
		below := 0
		for i := range identities {
			if keySlot(hashTag(keyIdentity, "id-"+strconv.Itoa(i))) < tenantSlot {
				below++
			}
		}
		if below == 0 || below == identities {
			t.Fatalf("all %d identities on one side of the tenant's slot; pick other names", identities)
		}
		var mu sync.Mutex
		perID := map[string]int{}
		start := time.Now()
		codes := burst(t, identities*each, func(i int) string { return gws[i%len(gws)].URL }, func(i int) (string, string) {
			return "id-" + strconv.Itoa(i%identities), "acme"
		}, chatBody(100, false, "count to ten"), func(i, code int) {
			if code == http.StatusOK {
				mu.Lock()
				perID["id-"+strconv.Itoa(i%identities)]++
				mu.Unlock()
			}
		})
		elapsed := time.Since(start)
		// Each admitted request used 101 tokens (1 prompt, 100 completion).
		used := int64(codes[http.StatusOK]) * 101
		bound := quota + int64(math.Ceil(float64(quota)*elapsed.Seconds()/window.Seconds()))
		if used > bound {
			t.Errorf("%d requests admitted used %d tokens, above the bound %d (quota %d plus refill over %s)", codes[http.StatusOK], used, bound, quota, elapsed)
		}
		if codes[http.StatusOK] == 0 || codes[http.StatusTooManyRequests] == 0 || codes[http.StatusOK]+codes[http.StatusTooManyRequests] != identities*each {
			t.Errorf("codes %v, want some 200, some 429 and nothing else", codes)
		}
		for id, n := range perID {
			if n > perIdentity {
				t.Errorf("identity %s admitted %d times, above its rpm %d", id, n, perIdentity)
			}
		}
	})
}

type counters struct {
	used   float64
	leases int64
	spent  string
}

func snapshot(t *testing.T, c *redis.ClusterClient, bucket, lease, budget string) counters {
	t.Helper()
	used, err := c.HGet(t.Context(), bucket, "u").Float64()
	if err != nil {
		t.Fatalf("HGET %s u: %v", bucket, err)
	}
	leases, err := c.ZCard(t.Context(), lease).Result()
	if err != nil {
		t.Fatalf("ZCARD %s: %v", lease, err)
	}
	spent, err := c.HGet(t.Context(), budget, "u").Result()
	if err != nil {
		t.Fatalf("HGET %s u: %v", budget, err)
	}
	return counters{used: used, leases: leases, spent: spent}
}

// chatAs sends a chat completion as identity of tenant.
func chatAs(t testing.TB, url, identity, tenant, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Identity", identity)
	req.Header.Set("X-Test-Tenant", tenant)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// burst sends n requests at once (request i to url(i) as who(i)) and
// counts the statuses; each status is also passed to the optional seen.
func burst(t *testing.T, n int, url func(int) string, who func(int) (string, string), body string, seen ...func(i, code int)) map[int]int {
	t.Helper()
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	for i := range n {
		wg.Go(func() {
			id, tenant := who(i)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url(i)+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Test-Identity", id)
			req.Header.Set("X-Test-Tenant", tenant)
			<-start
			code := 0
			if res, err := client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				code = res.StatusCode
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
			for _, f := range seen {
				f(i, code)
			}
		})
	}
	close(start)
	wg.Wait()
	return codes
}

// TestRedisClusterNodeDown kills one master of a real cluster: decisions
// whose keys it holds fail (fast, once its breaker opens), and decisions on
// the other masters carry on. A store-wide breaker would refuse them all.
func TestRedisClusterNodeDown(t *testing.T) {
	c := startRedisCluster(t)
	reg := prometheus.NewRegistry()
	st, err := NewStore(t.Context(), clusterConfig(c.Addrs, "closed"), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := t.Context()

	// One key on the master that dies, one on another master.
	master := func(key string) string {
		n, err := c.Client.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return n.Options().Addr
	}
	p := fmt.Sprintf("nodedown-%d:", time.Now().UnixNano())
	deadKey := p + "{a}:rpm"
	var liveKey string
	for i := 0; liveKey == ""; i++ {
		if k := p + "{" + strconv.Itoa(i) + "}:rpm"; master(k) != master(deadKey) {
			liveKey = k
		}
	}
	claim := func(key string) []Claim {
		return []Claim{{Kind: Bucket, Key: key, Quota: 1000, Window: time.Hour, Cost: 1}}
	}
	for _, k := range []string{deadKey, liveKey} {
		if v, err := st.Acquire(ctx, claim(k)); err != nil || !v.Allowed {
			t.Fatalf("Acquire(%s) before the outage = %+v, %v", k, v, err)
		}
	}

	dead := master(deadKey)
	for _, n := range c.Nodes {
		if n.Addr == dead {
			n.Kill()
		}
	}
	// The dead node's breaker opens after a few failures; from then on its
	// keys fail without a round trip.
	var fastFail bool
	for range 20 {
		_, err := st.Acquire(ctx, claim(deadKey))
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Acquire on the dead master = %v, want ErrUnavailable", err)
		}
		if !strings.Contains(err.Error(), dead) {
			t.Errorf("error %q does not name the dead node %s", err, dead)
		}
		if strings.Contains(err.Error(), "waiting before retrying") {
			fastFail = true
			break
		}
	}
	if !fastFail {
		t.Fatal("the dead master's breaker never opened")
	}
	// While it is open, the other masters still decide.
	for i := range 5 {
		if v, err := st.Acquire(ctx, claim(liveKey)); err != nil || !v.Allowed {
			t.Fatalf("Acquire %d on a live master while another is down = %+v, %v", i, v, err)
		}
	}
	if got := metricValue(t, reg, "bulwark_limit_store_up", map[string]string{"store": "redis"}); got != 0 {
		t.Errorf("bulwark_limit_store_up = %v with a master down, want 0", got)
	}
}
