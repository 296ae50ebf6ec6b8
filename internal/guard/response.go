// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/bulwarkai/bulwark/internal/guard/redact"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// textKeys name the fields whose string values are model text, wherever
// they sit under "choices" (chat, completions) or "output" (Responses).
func isTextKey(k string) bool {
	switch k {
	case "content", "text", "refusal", "reasoning_content", "reasoning", "arguments", "transcript":
		return true
	}
	return false
}

// isLogprobs names fields that spell out the generated tokens one by one.
// With output guards on they would carry every guarded value past the
// guards, so their values are replaced with null.
func isLogprobs(k string) bool { return k == "logprobs" || k == "top_logprobs" }

func underLogprobs(path []elem) bool {
	for _, e := range path {
		if e.idx < 0 && isLogprobs(e.key) {
			return true
		}
	}
	return false
}

// OnResponse wraps the response body so that output guards see the model's
// text before the client does and mask placeholders are restored. It runs
// after the core's usage observer, so it sees the stream as the client
// will.
func (s *Stage) OnResponse(_ context.Context, rc *pipeline.RequestContext, res *http.Response) (*pipeline.Decision, error) {
	st, _ := rc.Guard.(*reqState)
	var mask *redact.Redactor
	if st != nil && st.s == s && st.mask != nil && st.mask.Len() > 0 {
		mask = st.mask
	}
	guarded := len(s.output) > 0
	if !guarded && mask == nil || res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, nil
	}
	switch rc.API {
	case llm.APIChat, llm.APICompletions, llm.APIResponses:
	case llm.APIEmbeddings, llm.APIModels:
		return nil, nil // vectors and model lists: no generated text
	default:
		return s.unscannable(guarded, "passthrough response cannot be parsed for guards"), nil
	}
	if ce := res.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return s.unscannable(guarded, "response has Content-Encoding "+ce), nil
	}
	if st == nil {
		st = s.state(rc)
	}
	o := &outputSide{s: s, st: st, guards: s.output, redactor: st.redactorFor(), mask: mask, spent: make([]time.Duration, len(s.output))}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	switch mt {
	case "text/event-stream":
		res.Body = newSSEGuard(res.Body, rc, o)
		return nil, nil
	case "application/json":
		return s.wholeJSON(rc, res, o)
	}
	return s.unscannable(guarded, "response content type "+strconv.Quote(mt)), nil
}

// unscannable refuses a response the guards cannot read, unless the route
// opted out; without output guards (only masks to restore) it passes.
func (s *Stage) unscannable(guarded bool, reason string) *pipeline.Decision {
	if !guarded || s.allowUnscanned {
		return nil
	}
	s.metrics.unscanned.WithLabelValues(dirOutput).Inc()
	return &pipeline.Decision{Status: http.StatusBadGateway, Type: pipeline.TypeUpstream, Code: codeUnscanResp,
		Message: msgUnscanResp, Stage: StageName, Rule: "unscannable", Reason: reason}
}

// wholeJSON guards a non-streamed response: it reads the body (bounded),
// redacts or blocks on its text fields and replaces the body.
func (s *Stage) wholeJSON(rc *pipeline.RequestContext, res *http.Response, o *outputSide) (*pipeline.Decision, error) {
	body, err := io.ReadAll(io.LimitReader(res.Body, s.maxResponse+1))
	_ = res.Body.Close()
	if err != nil {
		return nil, &pipeline.StatusError{Status: http.StatusBadGateway, Type: pipeline.TypeUpstream, Code: "upstream_read_error",
			Message: "The upstream response could not be read.", Err: err}
	}
	if int64(len(body)) > s.maxResponse {
		return &pipeline.Decision{Status: http.StatusBadGateway, Type: pipeline.TypeUpstream, Code: "response_too_large",
			Message: "The upstream response is too large to inspect.", Stage: StageName, Rule: "max_response_bytes",
			Reason: fmt.Sprintf("response exceeds guards.maxResponseBytes (%d)", s.maxResponse)}, nil
	}
	out, blk, err := o.rewriteJSON(body)
	o.observe()
	if err != nil {
		return s.unscannable(true, "response body: "+err.Error()), nil
	}
	if blk != nil {
		return o.blockDecision(blk), nil
	}
	res.Body = io.NopCloser(bytes.NewReader(out))
	res.ContentLength = int64(len(out))
	res.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil, nil
}

// blockDecision is the refusal of a blocked whole response (the scan has
// recorded the finding).
func (o *outputSide) blockDecision(b *blocked) *pipeline.Decision {
	return &pipeline.Decision{Status: http.StatusForbidden, Type: pipeline.TypeInvalidRequest, Code: CodePolicy,
		Message: msgOutBlocked, Stage: StageName, Rule: b.guard.name,
		Reason: fmt.Sprintf("%s found %s in the response", b.guard.name, b.typ)}
}

func (o *outputSide) observe() {
	for i, g := range o.guards {
		o.s.metrics.observe(dirOutput, g, o.spent[i])
	}
}

// rewriteJSON guards every text field of a whole response document.
func (o *outputSide) rewriteJSON(body []byte) ([]byte, *blocked, error) {
	var spans []scalar
	_, err := walk(body, nil, func(path []elem, v scalar) {
		if len(path) < 2 || path[0].key != "choices" && path[0].key != "output" {
			return
		}
		switch {
		case v.cut:
			if string(body[v.start:v.end]) != "null" && len(o.guards) > 0 {
				spans = append(spans, v)
			}
		case v.str && isTextKey(path[len(path)-1].key) && !underLogprobs(path):
			spans = append(spans, v)
		}
	}, isLogprobs)
	if err != nil {
		return nil, nil, err
	}
	var edits []edit
	for _, v := range spans {
		if v.cut {
			edits = append(edits, edit{start: v.start, end: v.end, repl: []byte("null")})
			continue
		}
		text, err := decodeString(body[v.start:v.end])
		if err != nil {
			return nil, nil, err
		}
		out, blk := o.scanWhole(text)
		if blk != nil {
			return nil, blk, nil
		}
		if out != text {
			edits = append(edits, edit{start: v.start, end: v.end, repl: appendString(nil, out)})
		}
	}
	if len(edits) == 0 {
		return body, nil, nil
	}
	return splice(make([]byte, 0, len(body)+64), body, edits), nil, nil
}
