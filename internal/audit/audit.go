// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// Record is one audit line. Field names are part of the product's
// interface: SIEM pipelines parse them.
type Record struct {
	Time             time.Time      `json:"time"`
	RequestID        string         `json:"request_id"`
	Identity         string         `json:"identity,omitempty"`
	Tenant           string         `json:"tenant,omitempty"`
	AuthMethod       string         `json:"auth_method,omitempty"`
	ClientIP         string         `json:"client_ip,omitempty"`
	Method           string         `json:"method"`
	Path             string         `json:"path"`
	Route            string         `json:"route,omitempty"`
	Upstream         string         `json:"upstream,omitempty"`
	Endpoint         string         `json:"endpoint,omitempty"`
	API              string         `json:"api,omitempty"`
	Model            string         `json:"model,omitempty"`
	Stream           bool           `json:"stream,omitempty"`
	Decision         Decision       `json:"decision"`
	Detected         []Decision     `json:"detected,omitempty"`
	Status           int            `json:"status"`
	LatencyMS        float64        `json:"latency_ms"`
	TTFBMS           float64        `json:"ttfb_ms,omitempty"`
	UpstreamMS       float64        `json:"upstream_ms,omitempty"`
	PromptTokens     int64          `json:"prompt_tokens,omitempty"`
	CompletionTokens int64          `json:"completion_tokens,omitempty"`
	UsageEstimated   bool           `json:"usage_estimated,omitempty"`
	BytesIn          int            `json:"bytes_in"`
	BytesOut         int64          `json:"bytes_out"`
	PromptSHA256     string         `json:"prompt_sha256,omitempty"`
	Prompt           string         `json:"prompt,omitempty"`
	Stages           map[string]any `json:"stages,omitempty"`
}

// Decision is the verdict in an audit line.
type Decision struct {
	Outcome string `json:"outcome"`
	Stage   string `json:"stage,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Redactor replaces PII and secrets in prompt text with placeholders.
type Redactor func(string) string

// Log appends records to a file or stdout. Each write(2) carries whole
// lines only, so a writer from a retiring pipeline and its successor can
// share an O_APPEND file without tearing lines.
type Log struct {
	mu      sync.Mutex
	path    string
	w       io.Writer
	f       *os.File
	buf     []byte
	limit   int
	stop    chan struct{}
	stopped chan struct{}
	logger  *slog.Logger
}

// Open opens path for appending and starts a flusher that writes buffered
// lines at least every flushEvery.
func Open(path string, flushEvery time.Duration, logger *slog.Logger) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	l := NewWriter(f, flushEvery, logger)
	l.path, l.f = path, f
	return l, nil
}

// NewWriter writes records to w (stdout for path "-").
func NewWriter(w io.Writer, flushEvery time.Duration, logger *slog.Logger) *Log {
	l := &Log{path: "-", w: w, limit: 64 << 10, stop: make(chan struct{}), stopped: make(chan struct{}), logger: logger}
	go l.flusher(flushEvery)
	return l
}

// Path is the file written to.
func (l *Log) Path() string { return l.path }

func (l *Log) flusher(every time.Duration) {
	defer close(l.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			l.flushLocked()
			l.mu.Unlock()
		}
	}
}

// Write appends one record.
func (l *Log) Write(r *Record) {
	line, err := json.Marshal(r)
	if err != nil {
		l.logger.Error("encoding audit record", "request_id", r.RequestID, "err", err)
		return
	}
	l.mu.Lock()
	if len(l.buf)+len(line)+1 > l.limit {
		l.flushLocked()
	}
	l.buf = append(l.buf, line...)
	l.buf = append(l.buf, '\n')
	l.mu.Unlock()
}

func (l *Log) flushLocked() {
	if len(l.buf) == 0 {
		return
	}
	if _, err := l.w.Write(l.buf); err != nil {
		l.logger.Error("writing audit log", "path", l.path, "err", err)
	}
	l.buf = l.buf[:0]
}

// Flush writes buffered lines now.
func (l *Log) Flush() {
	l.mu.Lock()
	l.flushLocked()
	l.mu.Unlock()
}

// Reopen reopens the file (after log rotation); buffered lines go to the
// old file first.
func (l *Log) Reopen() error {
	if l.f == nil {
		return nil
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("reopening audit log: %w", err)
	}
	l.mu.Lock()
	l.flushLocked()
	old := l.f
	l.f, l.w = f, f
	l.mu.Unlock()
	return old.Close()
}

// Close flushes and closes the log.
func (l *Log) Close() error {
	close(l.stop)
	<-l.stopped
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	if l.f != nil {
		return l.f.Close()
	}
	return nil
}

// Observer turns finished requests into records for one pipeline's
// prompt-logging policy.
type Observer struct {
	Log            *Log
	Prompts        string // none | hash | redacted
	MaxPromptBytes int
	Redact         Redactor
}

var _ pipeline.Observer = (*Observer)(nil)

// Observe implements pipeline.Observer.
func (o *Observer) Observe(rc *pipeline.RequestContext) {
	r := Record{
		Time:             rc.Start.UTC(),
		RequestID:        rc.ID,
		Identity:         rc.Identity.ID,
		Tenant:           rc.Identity.Tenant,
		AuthMethod:       rc.Identity.Method,
		Method:           rc.Request.Method,
		Path:             rc.Request.URL.Path,
		Upstream:         rc.Upstream,
		Endpoint:         rc.Endpoint,
		Status:           rc.Status,
		LatencyMS:        ms(time.Since(rc.Start)),
		TTFBMS:           ms(rc.TTFB()),
		UpstreamMS:       ms(rc.UpstreamLatency),
		PromptTokens:     rc.Usage.PromptTokens,
		CompletionTokens: rc.Usage.CompletionTokens,
		UsageEstimated:   !rc.Usage.Reported && rc.Usage.Total() > 0,
		BytesIn:          rc.BytesIn,
		BytesOut:         rc.BytesOut,
		Decision:         Decision{Outcome: rc.Outcome()},
	}
	if rc.ClientIP.IsValid() {
		r.ClientIP = rc.ClientIP.String()
	}
	if rc.Route != nil {
		r.Route = rc.Route.Name
	}
	if d := rc.Decision; d != nil {
		r.Decision.Stage, r.Decision.Rule, r.Decision.Reason = d.Stage, d.Rule, d.Reason
	}
	for _, d := range rc.Detected {
		r.Detected = append(r.Detected, Decision{Outcome: "detect", Stage: d.Stage, Rule: d.Rule, Reason: d.Reason})
	}
	if rc.LLM != nil {
		r.API, r.Model, r.Stream = rc.API.String(), rc.LLM.Model, rc.LLM.Stream
		o.prompt(&r, rc)
	}
	if fields := rc.AuditFields(); len(fields) > 0 {
		r.Stages = make(map[string]any, len(fields))
		for _, f := range fields {
			r.Stages[f.Key] = f.Value
		}
	}
	o.Log.Write(&r)
}

func (o *Observer) prompt(r *Record, rc *pipeline.RequestContext) {
	switch o.Prompts {
	case "hash":
		sum := sha256.Sum256([]byte(rc.LLM.PromptText()))
		r.PromptSHA256 = hex.EncodeToString(sum[:])
	case "redacted":
		text := rc.LLM.PromptText()
		if o.Redact != nil {
			text = o.Redact(text)
		} else {
			text = "" // fail closed: never log a prompt we could not redact
		}
		if len(text) > o.MaxPromptBytes {
			text = truncateUTF8(text, o.MaxPromptBytes)
		}
		r.Prompt = text
	}
}

func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
