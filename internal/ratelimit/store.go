// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkai/bulwark/internal/config"
)

// ClaimKind is the counter algorithm behind one claim.
type ClaimKind uint8

const (
	// Bucket is a token bucket of Quota units that refills continuously at
	// Quota per Window. Its state is the units in use, which drain at that
	// rate; a claim takes Cost units if used+Cost <= Quota.
	Bucket ClaimKind = iota + 1
	// Lease holds one of Quota concurrent slots until released or until
	// TTL passes (so a crashed replica's slots come back).
	Lease
	// Budget counts units (micro-currency) spent in the current UTC day or
	// month; a claim takes Cost units if spent+Cost <= Quota.
	Budget
)

// Period is a budget's calendar period.
type Period uint8

const (
	Day Period = iota + 1
	Month
)

// Claim is one counter a request must take from.
type Claim struct {
	Kind ClaimKind
	// Key is the full store key, hash tag included.
	Key string
	// Quota is the capacity: units per window, slots, or budget units.
	Quota int64
	// Window is a Bucket's refill window.
	Window time.Duration
	// TTL is how long a Lease is held at most.
	TTL time.Duration
	// Period is a Budget's calendar period.
	Period Period
	// Cost is the units taken (Bucket, Budget). Leases take one slot.
	Cost int64
	// Member names a Lease so that it can be released.
	Member string
}

// ClaimResult is the state of one claim's counter after the decision.
type ClaimResult struct {
	// Remaining units (after this request's claim when it was allowed).
	Remaining int64
	// Reset is the time until the counter is fully available again
	// (bucket drained, period over, a lease expired).
	Reset time.Duration
	// RetryAfter is the time until this claim's Cost would fit; zero when
	// it fits now, negative when it can never fit (Cost > Quota).
	RetryAfter time.Duration
	// PeriodStart identifies a budget's period (Unix seconds of its start),
	// so that settling after a rollover leaves the new period alone.
	PeriodStart int64
	// Skipped means the claim was not evaluated: on Redis Cluster a
	// decision over several hash slots stops at the first slot that
	// refuses, so claims in later slots are never looked at. The other
	// fields are then zero and headers leave the claim out.
	Skipped bool
}

// Verdict is the outcome of Acquire: every claim taken, or none.
type Verdict struct {
	Allowed bool
	// Denied is the index of the first claim that did not fit, or -1.
	Denied int
	// Results has one entry per claim, in order.
	Results []ClaimResult
}

// Adjustment corrects a claim once the request is over.
type Adjustment struct {
	Kind   ClaimKind
	Key    string
	Quota  int64
	Window time.Duration
	// Delta is added to a Bucket's or Budget's usage: negative refunds an
	// over-reservation, positive charges what was used beyond it.
	Delta int64
	// PeriodStart must match the budget's current period for Delta to apply.
	PeriodStart int64
	// Member is the Lease to release.
	Member string
}

// Store keeps limit counters. Acquire takes all claims of one request or
// none; implementations are safe for concurrent use.
type Store interface {
	// Acquire takes every claim, or none when any claim does not fit. The
	// memory store and a single Redis decide atomically; on Redis Cluster
	// claims in different hash slots are taken slot by slot and given back
	// when a later slot refuses (never more admitted than fits; briefly
	// held capacity may refuse a concurrent request).
	// An error means the store could not decide (unreachable, timeout).
	Acquire(ctx context.Context, claims []Claim) (Verdict, error)
	// Settle applies the adjustments (refunds, extra usage, releases).
	Settle(ctx context.Context, adj []Adjustment) error
	// Name is "memory" or "redis", for metrics and logs.
	Name() string
	// FailOpen reports whether requests are allowed while the store errs.
	FailOpen() bool
	Close() error
}

// ErrUnavailable wraps store errors that mean "could not reach the store".
var ErrUnavailable = errors.New("limit store unavailable")

// NewStore opens the store for one pipeline: the process-wide in-memory
// store when cfg is nil or names no Redis, else a Redis store. The memory
// store is shared by every pipeline of the process (Close is a no-op), so
// counters survive config reloads.
func NewStore(ctx context.Context, cfg *config.LimitStore, logger *slog.Logger, reg prometheus.Registerer) (Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := newMetrics(reg)
	if cfg == nil || cfg.Redis == nil {
		failOpen := cfg != nil && cfg.FailureMode == "open"
		return sharedMemory(failOpen), nil
	}
	return newRedisStore(ctx, cfg, logger, m)
}
