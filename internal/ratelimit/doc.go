// SPDX-License-Identifier: Apache-2.0

// Package ratelimit is the limits stage: request, token, concurrency and
// cost limits per route, keyed by identity, tenant, route, model, client
// address, header or JWT claim.
//
// Before forwarding, the stage reserves what a request may cost (one
// request, its estimated prompt tokens plus its capped max_tokens, a
// concurrency slot, its worst-case price) from every applicable counter in
// one atomic store call, all or nothing. When the request is over it
// settles each reservation to the usage the upstream reported, refunding
// what was not used and charging what was used beyond it, and releases the
// slot.
//
// Request and token limits are token buckets of size quota that refill
// continuously at quota per window; budgets count spend per UTC day or
// month; concurrency limits are leases that expire if a replica dies.
// Counters live in a process-wide in-memory store (one replica) or in Redis
// (shared across replicas, atomic Lua scripts, Redis's clock). On Redis
// Cluster the scripts run once per hash slot a request touches, and a slot
// that refuses gives back what the earlier ones took. See docs/limits.md
// for the semantics and the overshoot bound.
package ratelimit
