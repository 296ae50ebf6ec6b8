// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/bulwarkai/bulwark/internal/llm"
)

// Identity is who a request proved to be.
type Identity struct {
	// ID is the API key id, JWT identity claim or certificate name.
	ID string
	// Tenant groups identities; may be empty.
	Tenant string
	// Method is apiKey, jwt, mtls or anonymous.
	Method string
	// Claims are the verified JWT claims (nil for other methods), for
	// limits keyed by claim:NAME.
	Claims map[string]any
}

// AuditField is a stage's own section of the audit line, e.g. "waf".
type AuditField struct {
	Key   string
	Value any
}

// RequestContext is the per-request state that stages read and annotate.
// It is pooled: nothing may keep a pointer to it after the request ends.
type RequestContext struct {
	ID       string
	Start    time.Time
	Request  *http.Request
	ClientIP netip.Addr
	Route    *Route
	Logger   *slog.Logger

	// API is the LLM operation; APIUnknown for passthrough requests.
	API llm.API
	// Body is the request body, bounded by the route's maxRequestBytes;
	// after the stages ran, the body as forwarded (edits applied).
	Body []byte
	// BytesIn is the size of the body as the client sent it.
	BytesIn int
	// LLM is the parsed body; nil for passthrough and bodiless requests.
	LLM *llm.Request
	// Edits accumulate changes stages want made to the body; the handler
	// applies them once, after every stage has run.
	Edits llm.Edits

	Identity Identity

	// Decision is set when a stage or the proxy refused the request.
	Decision *Decision
	// Detected lists decisions taken in detect mode: recorded, not enforced.
	Detected []*Decision

	// Filled in by the proxy.
	Upstream        string
	Endpoint        string
	Status          int
	UpstreamLatency time.Duration
	// FirstByte is when the first response byte was written to the client.
	FirstByte time.Time
	// Usage is what the upstream reported (or what was counted when a
	// stream broke off before reporting).
	Usage llm.Usage
	// StripUsageChunk is set when the gateway asked a streaming upstream for
	// usage that the client did not request: the usage-only chunk is then
	// removed from the stream.
	StripUsageChunk bool
	// BytesOut counts body bytes written to the client.
	BytesOut int64

	// Guard is the guardrails stage's per-request state (the mask mapping
	// that its response side restores); nil unless that stage set it.
	// putRC clears it with every other field.
	Guard any

	audit []AuditField
	// finishers are the stages whose OnRequest ran, told when it ends.
	finishers []Finisher
}

// SetAudit adds (or replaces) a stage's section of the audit line.
func (rc *RequestContext) SetAudit(key string, v any) {
	for i := range rc.audit {
		if rc.audit[i].Key == key {
			rc.audit[i].Value = v
			return
		}
	}
	rc.audit = append(rc.audit, AuditField{Key: key, Value: v})
}

// AuditFields returns the stage sections set so far.
func (rc *RequestContext) AuditFields() []AuditField { return rc.audit }

// Detect records a decision that a stage in detect mode would have made.
func (rc *RequestContext) Detect(d *Decision) { rc.Detected = append(rc.Detected, d) }

// Outcome is "allow" or "deny".
func (rc *RequestContext) Outcome() string {
	if rc.Decision != nil {
		return "deny"
	}
	return "allow"
}

// TTFB is the time from arrival to the first byte sent to the client.
func (rc *RequestContext) TTFB() time.Duration {
	if rc.FirstByte.IsZero() {
		return 0
	}
	return rc.FirstByte.Sub(rc.Start)
}

var rcPool = sync.Pool{New: func() any { return new(RequestContext) }}

func getRC() *RequestContext {
	return rcPool.Get().(*RequestContext)
}

// putRC resets every field explicitly, keeping slice capacity, so nothing
// leaks from one request to the next.
func putRC(rc *RequestContext) {
	audit := rc.audit[:0]
	fin := rc.finishers[:0]
	for i := range rc.audit {
		rc.audit[i] = AuditField{}
	}
	for i := range rc.finishers {
		rc.finishers[i] = nil
	}
	*rc = RequestContext{audit: audit, finishers: fin}
	rcPool.Put(rc)
}
