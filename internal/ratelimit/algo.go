// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"math"
	"time"
)

// The counter arithmetic, shared by the memory store and mirrored line by
// line in the Redis scripts (redis.go); the store conformance tests hold
// the two to the same answers.

// leaseRetry is the Retry-After of a concurrency refusal: a slot frees when
// some request ends, which the gateway cannot predict.
const leaseRetry = time.Second

// drain returns a bucket's usage after elapsed time: usage flows out at
// quota per window and never below zero.
func drain(used float64, elapsed time.Duration, quota int64, window time.Duration) float64 {
	if used <= 0 || window <= 0 {
		return 0
	}
	used -= float64(elapsed) * float64(quota) / float64(window)
	if used < 0 {
		return 0
	}
	return used
}

// bucketCheck decides whether cost fits a bucket whose usage is used.
func bucketCheck(used float64, quota int64, window time.Duration, cost int64) (bool, ClaimResult) {
	q := float64(quota)
	perUnit := float64(window) / q // nanoseconds for one unit to drain
	fits := used+float64(cost) <= q
	after := used
	if fits {
		after += float64(cost)
	}
	var r ClaimResult
	r.Remaining = int64(math.Max(0, math.Floor(q-after)))
	r.Reset = time.Duration(math.Ceil(after * perUnit))
	switch {
	case cost > quota:
		r.RetryAfter = -1
	case !fits:
		r.RetryAfter = time.Duration(math.Ceil((used + float64(cost) - q) * perUnit))
	}
	return fits, r
}

// leaseCheck decides whether one more slot fits when held are taken.
func leaseCheck(held, quota int64) (bool, ClaimResult) {
	fits := held < quota
	var r ClaimResult
	r.Remaining = max(0, quota-held)
	if fits {
		r.Remaining--
	} else {
		r.RetryAfter = leaseRetry
	}
	return fits, r
}

// budgetCheck decides whether cost fits a budget with used spent in the
// period [start, end).
func budgetCheck(used, quota, cost int64, start, end, now time.Time) (bool, ClaimResult) {
	fits := used+cost <= quota
	after := used
	if fits {
		after += cost
	}
	r := ClaimResult{Remaining: max(0, quota-after), Reset: end.Sub(now), PeriodStart: start.Unix()}
	switch {
	case cost > quota:
		r.RetryAfter = -1
	case !fits:
		r.RetryAfter = end.Sub(now)
	}
	return fits, r
}

// periodBounds returns the UTC day or month holding now.
func periodBounds(p Period, now time.Time) (start, end time.Time) {
	y, m, d := now.UTC().Date()
	if p == Day {
		start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	}
	start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}
