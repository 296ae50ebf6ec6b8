// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// memoryStore keeps counters in this process. One mutex guards all of
// them: a decision is a few map lookups and float operations, far cheaper
// than the contention a finer scheme would save on a gateway's core count,
// and it makes Acquire atomic across claims for free.
type memoryStore struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucketState
	leases  map[string]map[string]time.Time
	budgets map[string]*budgetState
	swept   time.Time
}

type bucketState struct {
	used float64
	at   time.Time
	// quota and window as last claimed, so that the sweep can tell when
	// the bucket has drained.
	quota  int64
	window time.Duration
}

type budgetState struct {
	period int64
	used   int64
}

// sweepEvery bounds how long idle counters stay in memory.
const sweepEvery = time.Minute

var (
	sharedMemOnce sync.Once
	sharedMem     *memoryStore
)

// sharedMemory returns the process-wide memory store. Pipelines come and
// go with reloads; the counters must not.
func sharedMemory(bool) *memoryStore {
	sharedMemOnce.Do(func() { sharedMem = newMemoryStore(time.Now) })
	return sharedMem
}

// NewMemoryStore returns a fresh in-memory store with its own counters,
// for tests and embedders; the gateway uses the shared one via NewStore.
func NewMemoryStore() Store { return newMemoryStore(time.Now) }

func newMemoryStore(now func() time.Time) *memoryStore {
	return &memoryStore{
		now:     now,
		buckets: map[string]*bucketState{},
		leases:  map[string]map[string]time.Time{},
		budgets: map[string]*budgetState{},
	}
}

func (m *memoryStore) Name() string   { return "memory" }
func (m *memoryStore) FailOpen() bool { return false }

// Close is a no-op: the store is shared by every pipeline of the process.
func (m *memoryStore) Close() error { return nil }

func (m *memoryStore) Acquire(_ context.Context, claims []Claim) (Verdict, error) {
	v := Verdict{Allowed: true, Denied: -1, Results: make([]ClaimResult, len(claims))}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.maybeSweep(now)
	for i := range claims {
		c := &claims[i]
		r := &v.Results[i]
		var fits bool
		switch c.Kind {
		case Bucket:
			used := m.bucketUsed(c.Key, c.Quota, c.Window, now)
			fits, *r = bucketCheck(used, c.Quota, c.Window, c.Cost)
		case Lease:
			held := m.leasesHeld(c.Key, now)
			fits, *r = leaseCheck(held, c.Quota)
		case Budget:
			start, end := periodBounds(c.Period, now)
			used := int64(0)
			if b := m.budgets[c.Key]; b != nil && b.period == start.Unix() {
				used = b.used
			}
			fits, *r = budgetCheck(used, c.Quota, c.Cost, start, end, now)
		}
		if !fits && v.Allowed {
			v.Allowed, v.Denied = false, i
		}
	}
	if !v.Allowed {
		return v, nil
	}
	for i := range claims {
		c := &claims[i]
		switch c.Kind {
		case Bucket:
			b := m.buckets[c.Key]
			if b == nil {
				b = &bucketState{}
				m.buckets[c.Key] = b
			}
			b.used = m.bucketUsed(c.Key, c.Quota, c.Window, now) + float64(c.Cost)
			b.at, b.quota, b.window = now, c.Quota, c.Window
		case Lease:
			l := m.leases[c.Key]
			if l == nil {
				l = map[string]time.Time{}
				m.leases[c.Key] = l
			}
			l[c.Member] = now.Add(c.TTL)
		case Budget:
			ps := v.Results[i].PeriodStart
			b := m.budgets[c.Key]
			if b == nil || b.period != ps {
				b = &budgetState{period: ps}
				m.budgets[c.Key] = b
			}
			b.used += c.Cost
		}
	}
	return v, nil
}

func (m *memoryStore) Settle(_ context.Context, adj []Adjustment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for i := range adj {
		a := &adj[i]
		switch a.Kind {
		case Bucket:
			if a.Delta == 0 {
				continue
			}
			used := m.bucketUsed(a.Key, a.Quota, a.Window, now) + float64(a.Delta)
			b := m.buckets[a.Key]
			if b == nil {
				b = &bucketState{}
				m.buckets[a.Key] = b
			}
			b.used, b.at, b.quota, b.window = math.Max(0, used), now, a.Quota, a.Window
		case Lease:
			// An emptied set stays for reuse until the sweep drops it.
			delete(m.leases[a.Key], a.Member)
		case Budget:
			if b := m.budgets[a.Key]; b != nil && b.period == a.PeriodStart {
				b.used = max(0, b.used+a.Delta)
			}
		}
	}
	return nil
}

// bucketUsed is the bucket's usage drained to now.
func (m *memoryStore) bucketUsed(key string, quota int64, window time.Duration, now time.Time) float64 {
	b := m.buckets[key]
	if b == nil {
		return 0
	}
	return drain(b.used, now.Sub(b.at), quota, window)
}

func (m *memoryStore) leasesHeld(key string, now time.Time) int64 {
	l := m.leases[key]
	for member, exp := range l {
		if !now.Before(exp) {
			delete(l, member)
		}
	}
	return int64(len(l))
}

// maybeSweep drops counters that hold nothing any more: drained buckets,
// budgets of past periods, keys without leases.
func (m *memoryStore) maybeSweep(now time.Time) {
	if now.Sub(m.swept) < sweepEvery {
		return
	}
	m.swept = now
	for k, b := range m.buckets {
		if drain(b.used, now.Sub(b.at), b.quota, b.window) <= 0 {
			delete(m.buckets, k)
		}
	}
	for k := range m.leases {
		if m.leasesHeld(k, now) == 0 {
			delete(m.leases, k)
		}
	}
	day, _ := periodBounds(Day, now)
	month, _ := periodBounds(Month, now)
	for k, b := range m.budgets {
		if b.period != day.Unix() && b.period != month.Unix() {
			delete(m.budgets, k)
		}
	}
}
