// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"context"
	"net/http"
)

// A Stage inspects one request. A non-nil *Decision stops the pipeline and
// is written to the client; a non-nil error means the stage itself broke and
// the request fails closed with 500 (or the status of a *StatusError).
type Stage interface {
	Name() string
	OnRequest(ctx context.Context, rc *RequestContext) (*Decision, error)
}

// ResponseStage inspects the upstream's response before it reaches the
// client. It may wrap res.Body (streaming guards do) and may refuse the
// response with a Decision. Detected once when a route is built.
type ResponseStage interface {
	OnResponse(ctx context.Context, rc *RequestContext, res *http.Response) (*Decision, error)
}

// Finisher is told when a request is over, whatever happened, if its
// OnRequest ran. Limits release concurrency and settle token reservations
// here. It must not block for long: the audit line waits for it.
type Finisher interface {
	Finish(ctx context.Context, rc *RequestContext)
}

// Closer is implemented by stages holding resources (connections,
// goroutines) released when the pipeline that built them retires.
type Closer interface {
	Close() error
}

// Decision is a verdict that ends a request. Message is safe for clients;
// Reason is for logs only and never leaves the gateway.
type Decision struct {
	// Status is the HTTP status written to the client.
	Status int
	// Type and Code fill the OpenAI-style error body.
	Type string
	Code string
	// Message is the client-facing text: generic, no rule details.
	Message string
	// Stage and Rule say who decided, for audit and metrics.
	Stage string
	Rule  string
	// Reason explains the decision in the log.
	Reason string
	// Header carries extra response headers (Retry-After, RateLimit...).
	Header http.Header
}

// Error types used in OpenAI-compatible bodies.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_exceeded"
	TypeQuota          = "insufficient_quota"
	TypeServer         = "server_error"
	TypeUpstream       = "upstream_error"
)
