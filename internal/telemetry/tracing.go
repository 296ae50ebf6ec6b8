// SPDX-License-Identifier: Apache-2.0

package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/pipeline"
	"github.com/bulwarkai/bulwark/internal/version"
)

// Tracing exports spans over OTLP/HTTP. A nil *Tracing is off and costs
// nothing on the request path.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// NewTracing starts the exporter; nil config means tracing is off.
func NewTracing(ctx context.Context, cfg *config.Tracing) (*Tracing, error) {
	if cfg == nil {
		return nil, nil
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("tracing endpoint: %w", err)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if u.Path != "" && u.Path != "/" {
		opts = append(opts, otlptracehttp.WithURLPath(u.Path))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating otlp exporter: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(version.Version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*cfg.SampleRatio))),
	)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return &Tracing{provider: tp, tracer: tp.Tracer("github.com/bulwarkai/bulwark")}, nil
}

// Shutdown flushes pending spans.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Middleware starts a server span per request, continuing the caller's
// trace, and injects the context upstream through the proxy's headers.
func (t *Tracing) Middleware(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	prop := otel.GetTextMapPropagator()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.tracer.Start(ctx, "bulwark "+r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path)))
		defer span.End()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Observer annotates the request's span with the GenAI semantic
// conventions once the outcome is known.
type Observer struct{}

// Observe implements pipeline.Observer.
func (Observer) Observe(rc *pipeline.RequestContext) {
	span := trace.SpanFromContext(rc.Request.Context())
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		semconv.HTTPResponseStatusCode(rc.Status),
		attribute.String("bulwark.request_id", rc.ID),
		attribute.String("bulwark.decision", rc.Outcome()),
	}
	if rc.Route != nil {
		attrs = append(attrs, attribute.String("bulwark.route", rc.Route.Name))
	}
	if rc.Identity.ID != "" {
		attrs = append(attrs, attribute.String("bulwark.identity", rc.Identity.ID), attribute.String("bulwark.tenant", rc.Identity.Tenant))
	}
	if rc.LLM != nil {
		op := operationName(rc)
		attrs = append(attrs,
			semconv.GenAIOperationNameKey.String(op),
			semconv.GenAIRequestModel(rc.LLM.Model),
		)
		if rc.LLM.MaxTokens > 0 {
			attrs = append(attrs, semconv.GenAIRequestMaxTokens(rc.LLM.MaxTokens))
		}
		if rc.Usage.Total() > 0 {
			attrs = append(attrs,
				semconv.GenAIUsageInputTokens(int(rc.Usage.PromptTokens)),
				semconv.GenAIUsageOutputTokens(int(rc.Usage.CompletionTokens)),
			)
		}
		span.SetName(op + " " + rc.LLM.Model)
	}
	if d := rc.Decision; d != nil {
		attrs = append(attrs, attribute.String("bulwark.stage", d.Stage), attribute.String("bulwark.rule", d.Rule))
		if d.Status >= 500 {
			span.SetStatus(codes.Error, d.Rule)
		}
	}
	span.SetAttributes(attrs...)
}

func operationName(rc *pipeline.RequestContext) string {
	switch rc.API.String() {
	case "chat.completions":
		return "chat"
	case "completions":
		return "text_completion"
	case "embeddings":
		return "embeddings"
	case "responses":
		return "chat"
	}
	return rc.API.String()
}
