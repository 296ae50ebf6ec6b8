// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/bulwarkai/bulwark/internal/config"
)

// Header names. RateLimit and RateLimit-Policy follow the IETF httpapi
// draft (structured-field lists, one item per limit); the x-ratelimit-*
// set is OpenAI's, reporting the most constrained request and token limit.
const (
	HeaderPolicy            = "RateLimit-Policy"
	HeaderState             = "RateLimit"
	HeaderLimitRequests     = "X-Ratelimit-Limit-Requests"
	HeaderRemainingRequests = "X-Ratelimit-Remaining-Requests"
	HeaderResetRequests     = "X-Ratelimit-Reset-Requests"
	HeaderLimitTokens       = "X-Ratelimit-Limit-Tokens"
	HeaderRemainingTokens   = "X-Ratelimit-Remaining-Tokens"
	HeaderResetTokens       = "X-Ratelimit-Reset-Tokens"
)

// setHeaders writes the rate-limit headers for the claims a request made.
// Budgets are left out: they are not rates, and their state is the
// client's spend, reported in the error when exhausted.
func setHeaders(h http.Header, limits []*limit, claims []Claim, results []ClaimResult) {
	policy := make([]byte, 0, 64)
	state := make([]byte, 0, 64)
	req, tok := -1, -1
	for i, l := range limits {
		if l.claim == Budget || results[i].Skipped {
			continue
		}
		c, r := &claims[i], &results[i]
		if len(policy) > 0 {
			policy = append(policy, ", "...)
			state = append(state, ", "...)
		}
		policy = strconv.AppendQuote(policy, l.name)
		policy = append(policy, ";q="...)
		policy = strconv.AppendInt(policy, c.Quota, 10)
		switch l.kind {
		case config.LimitConcurrency:
			policy = append(policy, `;qu="concurrent-requests"`...)
		case config.LimitRequests:
		default:
			policy = append(policy, `;qu="tokens"`...)
		}
		if l.windowSec > 0 {
			policy = append(policy, ";w="...)
			policy = strconv.AppendInt(policy, l.windowSec, 10)
		}
		state = strconv.AppendQuote(state, l.name)
		state = append(state, ";r="...)
		state = strconv.AppendInt(state, r.Remaining, 10)
		if l.claim == Bucket {
			state = append(state, ";t="...)
			state = strconv.AppendInt(state, int64(math.Ceil(r.Reset.Seconds())), 10)
		}
		switch l.kind {
		case config.LimitRequests:
			if req < 0 || r.Remaining < results[req].Remaining {
				req = i
			}
		case config.LimitTokens, config.LimitInputTokens, config.LimitOutputTokens:
			if tok < 0 || r.Remaining < results[tok].Remaining {
				tok = i
			}
		}
	}
	if len(policy) == 0 {
		return
	}
	h.Set(HeaderPolicy, string(policy))
	h.Set(HeaderState, string(state))
	if req >= 0 {
		h.Set(HeaderLimitRequests, strconv.FormatInt(claims[req].Quota, 10))
		h.Set(HeaderRemainingRequests, strconv.FormatInt(results[req].Remaining, 10))
		h.Set(HeaderResetRequests, formatReset(results[req].Reset))
	}
	if tok >= 0 {
		h.Set(HeaderLimitTokens, strconv.FormatInt(claims[tok].Quota, 10))
		h.Set(HeaderRemainingTokens, strconv.FormatInt(results[tok].Remaining, 10))
		h.Set(HeaderResetTokens, formatReset(results[tok].Reset))
	}
}

// formatReset writes a duration the way OpenAI does ("20ms", "1s",
// "6m0s"), rounded up to the millisecond.
func formatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return ((d + time.Millisecond - 1) / time.Millisecond * time.Millisecond).String()
}
