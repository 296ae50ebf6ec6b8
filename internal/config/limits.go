// SPDX-License-Identifier: Apache-2.0

package config

// LimitStore selects where limit counters live.
type LimitStore struct {
	// Redis shares counters across replicas.
	Redis *RedisStore `json:"redis,omitempty"`
	// FailureMode decides what happens while the store is unreachable:
	// closed (default: 503) or open (allow, log and count).
	FailureMode string `json:"failureMode,omitempty"`
}

// RedisStore addresses a Redis server.
type RedisStore struct {
	Address string `json:"address"`
}

// Limit is one request, token or concurrency limit on a route.
type Limit struct {
	Name string `json:"name"`
	// Key partitions the counter: identity, tenant, route, model,
	// clientIP, header:NAME or claim:NAME.
	Key string `json:"key"`
	// Requests allowed per Window.
	Requests int64 `json:"requests,omitempty"`
	// Tokens (input+output) allowed per Window.
	Tokens int64 `json:"tokens,omitempty"`
	// Window of the request and token counters.
	Window Duration `json:"window,omitempty"`
	// Concurrency caps requests in flight.
	Concurrency int64 `json:"concurrency,omitempty"`
}

func (c *Config) applyLimitStoreDefaults() {
	if c.LimitStore != nil && c.LimitStore.FailureMode == "" {
		c.LimitStore.FailureMode = "closed"
	}
}

func (c *Config) validateLimitStore(e *errs) {
	s := c.LimitStore
	if s == nil {
		return
	}
	if !oneOf(s.FailureMode, "closed", "open") {
		e.add("limitStore.failureMode", "%q is not one of closed|open", s.FailureMode)
	}
	if s.Redis != nil {
		checkAddr(e, "limitStore.redis.address", s.Redis.Address)
	}
}

func (l *Limit) applyDefaults() {}

func validateLimits(e *errs, path string, limits []Limit) {
	_ = limits
}
