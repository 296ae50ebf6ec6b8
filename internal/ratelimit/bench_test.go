// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// BenchmarkDecision measures one request's whole limit cost: OnRequest
// (estimate, keys, one Acquire) plus Finish (one Settle), for the memory
// store, a real local Redis and a real local three-master Redis Cluster
// (where rpm+tpm+inflight spans two slots: identity and tenant, so two
// round trips to acquire and two to settle).
//
//	go test -run '^$' -bench Decision -benchtime 2s ./internal/ratelimit/
func BenchmarkDecision(b *testing.B) {
	big := int64(1) << 40 // never refuses: measure the allow path
	sets := map[string][]config.Limit{
		"rpm": {{Name: "rpm", Key: "identity", Requests: big, Window: config.Duration(time.Minute)}},
		"rpm+tpm+inflight": {
			{Name: "rpm", Key: "identity", Requests: big, Window: config.Duration(time.Minute)},
			{Name: "tpm", Key: "tenant", Tokens: big, Window: config.Duration(time.Minute)},
			{Name: "inflight", Key: "identity", Concurrency: big},
		},
	}
	body := []byte(chatBody(256, false, "Summarise the attached quarterly report in three bullet points, then list the risks it names."))
	req, err := llm.Parse(llm.APIChat, body)
	if err != nil {
		b.Fatal(err)
	}
	httpReq, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	for _, storeKind := range []string{"memory", "redis", "redis-cluster"} {
		b.Run(storeKind, func(b *testing.B) {
			var store Store
			switch storeKind {
			case "memory":
				store = NewMemoryStore()
			case "redis":
				r := startRedis(b)
				s, err := NewStore(b.Context(), redisConfig(r.Addr, "closed"), nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				store = s
			case "redis-cluster":
				c := startRedisCluster(b)
				s, err := NewStore(b.Context(), clusterConfig(c.Addrs, "closed"), nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				store = s
			}
			for _, name := range []string{"rpm", "rpm+tpm+inflight"} {
				b.Run(name, func(b *testing.B) {
					route := &config.Route{Name: "bench", Timeout: config.Duration(time.Minute), MaxOutputTokens: 512, Limits: sets[name]}
					st, err := New(route, store, nil, nil)
					if err != nil {
						b.Fatal(err)
					}
					rc := &pipeline.RequestContext{Request: httpReq, API: llm.APIChat, Body: body, LLM: req,
						Identity: pipeline.Identity{ID: "bench-user", Tenant: "bench-tenant"}}
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						d, err := st.OnRequest(ctx, rc)
						if err != nil || d != nil {
							b.Fatalf("OnRequest = %+v, %v", d, err)
						}
						rc.Status = http.StatusOK
						rc.Usage = llm.Usage{PromptTokens: 30, CompletionTokens: 120, Reported: true}
						st.Finish(ctx, rc)
					}
				})
			}
		})
	}
}

// BenchmarkDecisionParallel is the memory store under contention from
// every core, with distinct identities.
func BenchmarkDecisionParallel(b *testing.B) {
	route := &config.Route{Name: "bench", Timeout: config.Duration(time.Minute), Limits: []config.Limit{
		{Name: "rpm", Key: "identity", Requests: 1 << 40, Window: config.Duration(time.Minute)},
		{Name: "tpm", Key: "identity", Tokens: 1 << 40, Window: config.Duration(time.Minute)},
	}}
	st, err := New(route, NewMemoryStore(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(chatBody(64, false, "hello there"))
	req, _ := llm.Parse(llm.APIChat, body)
	httpReq, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rc := &pipeline.RequestContext{Request: httpReq, API: llm.APIChat, Body: body, LLM: req,
			Identity: pipeline.Identity{ID: time.Now().String()}}
		ctx := context.Background()
		for pb.Next() {
			if d, err := st.OnRequest(ctx, rc); err != nil || d != nil {
				b.Fatalf("OnRequest = %+v, %v", d, err)
			}
			rc.Status = http.StatusOK
			rc.Usage = llm.Usage{PromptTokens: 5, CompletionTokens: 64, Reported: true}
			st.Finish(ctx, rc)
		}
	})
}
