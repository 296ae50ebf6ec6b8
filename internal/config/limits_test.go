// SPDX-License-Identifier: Apache-2.0

package config

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const limitsBase = `
upstreams:
  - name: llm
    endpoints: [http://127.0.0.1:8000]
routes:
  - name: openai
    pathPrefix: /v1/
    upstream: llm
`

func TestLimitsParse(t *testing.T) {
	doc := `
limitStore:
  redis:
    address: 127.0.0.1:6379
` + limitsBase + `    maxOutputTokens: 1024
    limits:
      - name: rpm
        key: identity
        requests: 100
      - name: tpm
        key: tenant
        tokens: 100000
        window: 1m
      - name: inflight
        key: identity
        concurrency: 4
      - name: spend
        key: tenant
        budget: 50
        scope: global
        prices:
          gpt-4o: {input: 2.5, output: 10}
          "gpt-4o-mini*": {input: 0.15, output: 0.6}
          "*": {input: 1, output: 4}
        overrides:
          - values: [acme]
            budget: 500
          - values: [internal]
            unlimited: true
`
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&LimitStore{FailureMode: "closed", Redis: &RedisStore{
		Address: "127.0.0.1:6379", Timeout: Duration(250 * time.Millisecond), KeyPrefix: "bulwark:",
	}}, c.LimitStore); diff != "" {
		t.Errorf("limitStore defaults (-want +got):\n%s", diff)
	}
	want := []Limit{
		{Name: "rpm", Key: "identity", Requests: 100, Window: Duration(time.Minute), Scope: "route"},
		{Name: "tpm", Key: "tenant", Tokens: 100000, Window: Duration(time.Minute), Scope: "route"},
		{Name: "inflight", Key: "identity", Concurrency: 4, Scope: "route"},
		{Name: "spend", Key: "tenant", Budget: 50, Period: "month", Scope: "global",
			Prices:    map[string]Price{"gpt-4o": {2.5, 10}, "gpt-4o-mini*": {0.15, 0.6}, "*": {1, 4}},
			Overrides: []LimitOverride{{Values: []string{"acme"}, Budget: 500}, {Values: []string{"internal"}, Unlimited: true}}},
	}
	if diff := cmp.Diff(want, c.Routes[0].Limits); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
	kinds := []string{LimitRequests, LimitTokens, LimitConcurrency, LimitBudget}
	for i, l := range c.Routes[0].Limits {
		if l.Kind() != kinds[i] {
			t.Errorf("limits[%d].Kind() = %q, want %q", i, l.Kind(), kinds[i])
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name   string
		limits string
		store  string
		want   []string // substrings, one per expected problem
	}{
		{
			name: "no quantity",
			limits: `
      - name: x
        key: identity`,
			want: []string{"routes[0].limits[0]: set exactly one of requests"},
		},
		{
			name: "two quantities",
			limits: `
      - name: x
        key: identity
        requests: 1
        tokens: 5`,
			want: []string{"routes[0].limits[0]: set exactly one of"},
		},
		{
			name: "bad key and duplicate name",
			limits: `
      - name: x
        key: user
        requests: 1
      - name: x
        key: "header:"
        requests: 1`,
			want: []string{"routes[0].limits[0].key: \"user\" is not one of", "routes[0].limits[1].name: duplicate limit name", "routes[0].limits[1].key"},
		},
		{
			name: "negative quota",
			limits: `
      - name: x
        key: identity
        tokens: -5`,
			want: []string{"routes[0].limits[0].tokens: must be positive"},
		},
		{
			name: "window on concurrency",
			limits: `
      - name: x
        key: identity
        concurrency: 2
        window: 1m`,
			want: []string{"routes[0].limits[0].window: applies to requests and token limits only"},
		},
		{
			name: "window too long and sub-millisecond",
			limits: `
      - name: x
        key: identity
        requests: 2
        window: 800h
      - name: y
        key: identity
        requests: 2
        window: 1500us`,
			want: []string{"routes[0].limits[0].window: 800h0m0s must be within", "routes[0].limits[1].window: 1.5ms must be a whole number"},
		},
		{
			name: "budget without prices and bad period",
			limits: `
      - name: b
        key: tenant
        budget: 10
        period: week`,
			want: []string{"routes[0].limits[0].period: \"week\" is not one of day|month", "routes[0].limits[0].prices: a budget needs prices"},
		},
		{
			name: "bad price glob",
			limits: `
      - name: b
        key: tenant
        budget: 10
        prices:
          "gpt*4": {input: 1, output: 1}`,
			want: []string{"model \"gpt*4\" must be a name"},
		},
		{
			name: "prices on a rate limit",
			limits: `
      - name: r
        key: tenant
        requests: 10
        prices:
          "*": {input: 1, output: 1}`,
			want: []string{"routes[0].limits[0].prices: apply to budgets only"},
		},
		{
			name: "override of the wrong kind and repeated value",
			limits: `
      - name: r
        key: tenant
        requests: 10
        overrides:
          - values: [a]
            tokens: 5
          - values: [a]
            requests: 20
            unlimited: true`,
			want: []string{"overrides[0]: set requests (the limit's own quantity) or unlimited", "overrides[1].values: \"a\" is already overridden", "overrides[1]: set unlimited or a quota, not both"},
		},
		{
			name: "bad scope",
			limits: `
      - name: r
        key: tenant
        requests: 10
        scope: cluster`,
			want: []string{"routes[0].limits[0].scope: \"cluster\" is not one of route|global"},
		},
		{
			name: "bad store",
			store: `
limitStore:
  failureMode: maybe
  redis:
    address: nohost
    keyPrefix: "a{b}"
`,
			want: []string{"limitStore.failureMode: \"maybe\"", "limitStore.redis.address", "limitStore.redis.keyPrefix"},
		},
		{
			name: "address and addresses",
			store: `
limitStore:
  redis:
    address: 127.0.0.1:6379
    addresses: [127.0.0.1:7000]
`,
			want: []string{"limitStore.redis: set address (one server) or addresses (Redis Cluster seed nodes), not both"},
		},
		{
			name: "no address",
			store: `
limitStore:
  redis:
    keyPrefix: "x:"
`,
			want: []string{"limitStore.redis.address: \"\" must be host:port"},
		},
		{
			name: "bad cluster addresses",
			store: `
limitStore:
  redis:
    addresses: [127.0.0.1:7000, nohost, 127.0.0.1:7000]
    db: 2
`,
			want: []string{
				"limitStore.redis.addresses[1]: \"nohost\" must be host:port",
				"limitStore.redis.addresses[2]: \"127.0.0.1:7000\" is listed twice",
				"limitStore.redis.db: must be 0 with addresses",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.store + limitsBase
			if tt.limits != "" {
				doc += "    limits:" + tt.limits + "\n"
			}
			_, err := Parse([]byte(doc))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, want a ValidationError", err)
			}
			if len(ve.Problems) != len(tt.want) {
				t.Errorf("Parse reported %d problems, want %d:\n%v", len(ve.Problems), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLimitStoreCluster(t *testing.T) {
	doc := `
limitStore:
  redis:
    addresses: [10.0.0.1:6379, "redis-1.redis:6379"]
    timeout: 100ms
` + limitsBase
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := &LimitStore{FailureMode: "closed", Redis: &RedisStore{
		Addresses: []string{"10.0.0.1:6379", "redis-1.redis:6379"}, Timeout: Duration(100 * time.Millisecond), KeyPrefix: "bulwark:",
	}}
	if diff := cmp.Diff(want, c.LimitStore); diff != "" {
		t.Errorf("limitStore (-want +got):\n%s", diff)
	}
}

func TestValidLimitKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"identity", true}, {"tenant", true}, {"route", true}, {"model", true}, {"clientIP", true},
		{"header:X-Team", true}, {"claim:org_id", true},
		{"header:", false}, {"claim:", false}, {"header:a b", false}, {"ip", false}, {"", false},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.key), func(t *testing.T) {
			if got := ValidLimitKey(tt.key); got != tt.want {
				t.Errorf("ValidLimitKey(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}
