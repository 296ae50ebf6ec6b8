// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkai/bulwark/internal/llm"
)

// Handler is the one http.Handler of the data plane. It runs the current
// Pipeline; Swap replaces it atomically without dropping requests.
type Handler struct {
	current atomic.Pointer[Pipeline]
	logger  *slog.Logger
}

// NewHandler returns a Handler serving p.
func NewHandler(p *Pipeline, logger *slog.Logger) *Handler {
	h := &Handler{logger: logger}
	h.current.Store(p)
	return h
}

// Swap publishes next and retires the previous pipeline, which closes once
// its in-flight requests are done.
func (h *Handler) Swap(next *Pipeline) {
	if prev := h.current.Swap(next); prev != nil {
		prev.Retire()
	}
}

// Current returns the pipeline in service.
func (h *Handler) Current() *Pipeline { return h.current.Load() }

// Log field names of the canonical decision line, which tests assert on.
const (
	DecisionMsg   = "bulwark.decision"
	LogRequestID  = "request_id"
	LogRoute      = "route"
	LogIdentity   = "identity"
	LogTenant     = "tenant"
	LogModel      = "model"
	LogDecision   = "decision"
	LogStage      = "stage"
	LogRule       = "rule"
	LogReason     = "reason"
	LogStatus     = "status"
	LogDurationMS = "duration_ms"
)

func (h *Handler) pipeline() *Pipeline {
	for {
		p := h.current.Load()
		if p.acquire() {
			return p
		}
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.pipeline()
	defer p.release()

	rc := getRC()
	defer putRC(rc)
	rc.Start = time.Now()
	rc.Request = r
	rc.ClientIP = p.clientIP(r)
	rc.ID = p.requestID(r)
	rc.Logger = p.logger
	w.Header().Set("X-Request-Id", rc.ID)
	rw := &responseWriter{ResponseWriter: w, rc: rc}

	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value, compared as ReverseProxy does
				p.finish(rc)
				panic(v)
			}
			p.logger.Error("panic serving request", LogRequestID, rc.ID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !rw.wroteHeader {
				p.deny(rw, rc, &Decision{Status: http.StatusInternalServerError, Type: TypeServer, Code: "internal_error",
					Message: "The gateway could not process the request.", Stage: "gateway", Rule: "panic", Reason: fmt.Sprint(v)})
			}
		}
		p.finish(rc)
	}()
	p.serve(rw, r, rc)
}

func (p *Pipeline) serve(w *responseWriter, r *http.Request, rc *RequestContext) {
	ctx := r.Context()
	route := p.match(r.URL.Path)
	if route == nil {
		p.deny(w, rc, &Decision{Status: http.StatusNotFound, Type: TypeNotFound, Code: "route_not_found",
			Message: "No route for this path.", Stage: "routing", Rule: "no_route"})
		return
	}
	rc.Route = route

	if route.Authn != nil && !p.run(ctx, w, rc, route.Authn) {
		return
	}

	rc.API = llm.Classify(r.Method, r.URL.Path)
	if rc.API == llm.APIUnknown && !route.Passthrough {
		p.deny(w, rc, &Decision{Status: http.StatusNotFound, Type: TypeNotFound, Code: "unsupported_endpoint",
			Message: fmt.Sprintf("%s %s is not an API this gateway serves.", r.Method, r.URL.Path), Stage: "routing", Rule: "unsupported_endpoint"})
		return
	}

	if d := p.readBody(r, rc); d != nil {
		p.deny(w, rc, d)
		return
	}
	if rc.API.HasBody() {
		// Strict first: duplicate keys or invalid UTF-8 would let the
		// gateway and the upstream read different requests.
		err := llm.CheckStrict(rc.Body, llm.StrictLimits{})
		var req *llm.Request
		if err == nil {
			req, err = llm.Parse(rc.API, rc.Body)
		}
		if err != nil {
			p.deny(w, rc, &Decision{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: "invalid_body",
				Message: "Invalid request body: " + strings.TrimPrefix(err.Error(), llm.ErrMalformed.Error()+": ") + ".", Stage: "parse", Rule: "malformed", Reason: err.Error()})
			return
		}
		rc.LLM = req
		if req.Stream && route.StreamUsage && !req.IncludeUsage && (rc.API == llm.APIChat || rc.API == llm.APICompletions) {
			rc.Edits.IncludeUsage = true
			rc.StripUsageChunk = true
		}
	}

	for _, s := range route.Stages {
		if !p.run(ctx, w, rc, s) {
			return
		}
	}

	if !rc.Edits.Empty() {
		body, err := llm.Rewrite(rc.API, rc.Body, rc.Edits)
		if err != nil {
			p.deny(w, rc, DecisionFor("rewrite", err))
			return
		}
		rc.Body = body
	}

	if route.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, route.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	route.Upstream.Forward(w, r, rc)
}

// run executes one stage; it returns false when the request must stop.
func (p *Pipeline) run(ctx context.Context, w *responseWriter, rc *RequestContext, s Stage) bool {
	d, err := s.OnRequest(ctx, rc)
	if f, ok := s.(Finisher); ok {
		rc.finishers = append(rc.finishers, f)
	}
	if err != nil {
		d = DecisionFor(s.Name(), err)
	}
	if d == nil {
		return true
	}
	if d.Stage == "" {
		d.Stage = s.Name()
	}
	p.deny(w, rc, d)
	return false
}

// deny records d as the request's decision and writes it.
func (p *Pipeline) deny(w http.ResponseWriter, rc *RequestContext, d *Decision) {
	rc.Decision = d
	WriteDecision(w, d)
}

// Deny lets a Forwarder fail a request the same way stages do.
func Deny(w http.ResponseWriter, rc *RequestContext, d *Decision) {
	rc.Decision = d
	WriteDecision(w, d)
}

var errBodyTooLarge = errors.New("body too large")

// readBody reads the request body, refusing more than the route allows
// before reading it when Content-Length says so, and otherwise as soon as
// the limit is crossed.
func (p *Pipeline) readBody(r *http.Request, rc *RequestContext) *Decision {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	limit := rc.Route.MaxRequestBytes
	tooLarge := &Decision{Status: http.StatusRequestEntityTooLarge, Type: TypeInvalidRequest, Code: "request_too_large",
		Message: "Request body exceeds " + strconv.FormatInt(limit, 10) + " bytes.", Stage: "parse", Rule: "max_request_bytes"}
	if r.ContentLength > limit {
		return tooLarge
	}
	body, err := readLimited(r.Body, r.ContentLength, limit)
	switch {
	case errors.Is(err, errBodyTooLarge):
		return tooLarge
	case err != nil:
		return &Decision{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: "body_read_error",
			Message: "Could not read the request body.", Stage: "parse", Rule: "read_error", Reason: err.Error()}
	}
	rc.Body, rc.BytesIn = body, len(body)
	return nil
}

func readLimited(body io.Reader, length, limit int64) ([]byte, error) {
	size := length
	if size < 0 || size > limit {
		size = min(limit, 32<<10)
	}
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// finish tells the stages, the observers and the log that rc is over.
func (p *Pipeline) finish(rc *RequestContext) {
	ctx := context.WithoutCancel(rc.Request.Context())
	for i := len(rc.finishers) - 1; i >= 0; i-- {
		rc.finishers[i].Finish(ctx, rc)
	}
	if rc.Status == 0 && rc.Decision != nil {
		rc.Status = rc.Decision.Status
	}
	for _, o := range p.observers {
		o.Observe(rc)
	}
	p.logDecision(ctx, rc)
}

// logDecision emits the canonical decision line: at info for denials and
// detections, at debug for plain allows (the audit log has those).
func (p *Pipeline) logDecision(ctx context.Context, rc *RequestContext) {
	level := slog.LevelDebug
	if rc.Decision != nil || len(rc.Detected) > 0 {
		level = slog.LevelInfo
	}
	if !p.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String(LogRequestID, rc.ID),
		slog.String(LogDecision, rc.Outcome()),
		slog.Int(LogStatus, rc.Status),
		slog.Float64(LogDurationMS, float64(time.Since(rc.Start).Microseconds())/1000),
		slog.String(LogIdentity, rc.Identity.ID),
		slog.String(LogTenant, rc.Identity.Tenant),
	)
	if rc.Route != nil {
		attrs = append(attrs, slog.String(LogRoute, rc.Route.Name))
	}
	if rc.LLM != nil {
		attrs = append(attrs, slog.String(LogModel, rc.LLM.Model))
	}
	if d := rc.Decision; d != nil {
		attrs = append(attrs, slog.String(LogStage, d.Stage), slog.String(LogRule, d.Rule))
		if d.Reason != "" {
			attrs = append(attrs, slog.String(LogReason, d.Reason))
		}
	}
	for _, d := range rc.Detected {
		attrs = append(attrs, slog.Group("detected", slog.String(LogStage, d.Stage), slog.String(LogRule, d.Rule)))
	}
	p.logger.LogAttrs(ctx, level, DecisionMsg, attrs...)
}

// Request ids are a random per-process prefix plus a counter: unique,
// unguessable across restarts, and free of per-request syscalls.
var (
	idPrefix  = newIDPrefix()
	idCounter atomic.Uint64
	idBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 32); return &b }}
)

func newIDPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestID reuses a well-formed X-Request-Id set by a trusted proxy (so
// logs join up across hops) and otherwise mints one: clients must not be
// able to forge or collide audit ids.
func (p *Pipeline) requestID(r *http.Request) string {
	if len(p.trusted) > 0 {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && p.isTrusted(ap.Addr().Unmap()) {
			if v := r.Header.Get("X-Request-Id"); validID(v) {
				return v
			}
		}
	}
	bp := idBufPool.Get().(*[]byte)
	b := append((*bp)[:0], idPrefix...)
	b = strconv.AppendUint(b, idCounter.Add(1), 16)
	id := string(b)
	*bp = b
	idBufPool.Put(bp)
	return id
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// responseWriter records the status, first-byte time and size of what the
// client receives. It unwraps for http.ResponseController, so flushing
// (SSE) and hijacking reach the real writer.
type responseWriter struct {
	http.ResponseWriter
	rc          *RequestContext
	wroteHeader bool
}

func (w *responseWriter) WriteHeader(code int) {
	if code >= 200 && !w.wroteHeader {
		w.wroteHeader = true
		w.rc.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.rc.FirstByte.IsZero() && len(b) > 0 {
		w.rc.FirstByte = time.Now()
	}
	n, err := w.ResponseWriter.Write(b)
	w.rc.BytesOut += int64(n)
	return n, err
}

func (w *responseWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
