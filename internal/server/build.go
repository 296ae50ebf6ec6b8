// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/bulwarkai/bulwark/internal/access"
	"github.com/bulwarkai/bulwark/internal/audit"
	"github.com/bulwarkai/bulwark/internal/authn"
	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/guard"
	"github.com/bulwarkai/bulwark/internal/pipeline"
	"github.com/bulwarkai/bulwark/internal/proxy"
	"github.com/bulwarkai/bulwark/internal/ratelimit"
	"github.com/bulwarkai/bulwark/internal/telemetry"
	"github.com/bulwarkai/bulwark/internal/waf"
)

// deps are the process-wide parts a pipeline is built with; they outlive
// any one config.
type deps struct {
	logger  *slog.Logger
	metrics *telemetry.Metrics
	tracing *telemetry.Tracing
	audit   *audit.Log // nil when audit is off
	client  *http.Client
}

// build compiles cfg into a Pipeline. Everything that can fail (files,
// JWKS, rule compilation) fails here, so a bad config never replaces a good
// one. On error, whatever was built is closed.
func build(ctx context.Context, cfg *config.Config, d deps) (p *pipeline.Pipeline, err error) {
	var closers []pipeline.Closer
	defer func() {
		if err != nil {
			for _, c := range closers {
				_ = c.Close()
			}
		}
	}()

	upstreams := map[string]*proxy.Upstream{}
	for i := range cfg.Upstreams {
		u, err := proxy.New(&cfg.Upstreams[i], d.metrics, d.logger)
		if err != nil {
			return nil, err
		}
		closers = append(closers, u)
		upstreams[cfg.Upstreams[i].Name] = u
	}

	idStage, err := authn.New(ctx, cfg.Identity, d.client, d.logger)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	closers = append(closers, idStage)

	// One limit store per pipeline, opened only if some route has limits
	// (or an output-token cap, which the limits stage enforces).
	var store ratelimit.Store
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		if (len(r.Limits) > 0 || r.MaxOutputTokens > 0) && store == nil {
			if store, err = ratelimit.NewStore(ctx, cfg.LimitStore, d.logger, d.metrics.Registry); err != nil {
				return nil, fmt.Errorf("limitStore: %w", err)
			}
			closers = append(closers, store)
		}
	}

	var routes []*pipeline.Route
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		stages, cl, err := routeStages(rc, store, d)
		closers = append(closers, cl...)
		if err != nil {
			return nil, fmt.Errorf("routes[%d] (%s): %w", i, rc.Name, err)
		}
		routes = append(routes, &pipeline.Route{
			Name:            rc.Name,
			Prefix:          rc.PathPrefix,
			MaxRequestBytes: rc.MaxRequestBytes,
			Timeout:         rc.Timeout.D(),
			Passthrough:     rc.Passthrough,
			Anonymous:       rc.Anonymous,
			StreamUsage:     *rc.StreamUsage,
			Authn:           idStage,
			Stages:          stages,
			Upstream:        upstreams[rc.Upstream],
		})
	}

	observers := []pipeline.Observer{d.metrics}
	if d.tracing != nil {
		observers = append(observers, telemetry.Observer{})
	}
	if d.audit != nil {
		observers = append(observers, &audit.Observer{
			Log: d.audit, Prompts: cfg.Audit.Prompts, MaxPromptBytes: cfg.Audit.MaxPromptBytes, Redact: auditRedactor(),
		})
	}
	var trusted []netip.Prefix
	for _, s := range cfg.Server.TrustedProxies {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("server.trustedProxies: %w", err)
		}
		trusted = append(trusted, pfx)
	}
	return pipeline.New(pipeline.Options{
		Routes: routes, Observers: observers, TrustedProxies: trusted, Logger: d.logger, Closers: closers,
	}), nil
}

// routeStages builds the stages of one route in their fixed order:
//
//	access → limits → WAF → guards
//
// Access is free and settles who may ask at all. Limits come before the
// costly inspections so a flood is refused before it burns CPU (a request
// the WAF then blocks still counts against its sender's request limit;
// its token reservation is released). The WAF sees the request as sent;
// guards last, because their redactions change what is forwarded.
func routeStages(rc *config.Route, store ratelimit.Store, d deps) (stages []pipeline.Stage, closers []pipeline.Closer, err error) {
	reg := d.metrics.Registry
	defer func() {
		if err != nil { // release what was built before the failure (compiled WAF rules, remote clients)
			for _, s := range stages {
				if c, ok := s.(pipeline.Closer); ok {
					_ = c.Close()
				}
			}
		}
	}()
	if s := access.New(rc.Access); s != nil {
		stages = append(stages, s)
	}
	if store != nil {
		s, err := ratelimit.New(rc, store, d.logger, reg)
		if err != nil {
			return stages, nil, fmt.Errorf("limits: %w", err)
		}
		if s != nil {
			stages = append(stages, s)
		}
	}
	if rc.WAF != nil && rc.WAF.Mode != "off" {
		s, err := waf.New(rc.WAF, d.logger, reg)
		if err != nil {
			return stages, nil, fmt.Errorf("waf: %w", err)
		}
		stages = append(stages, s)
	}
	if rc.Guards != nil {
		s, err := guard.New(rc.Guards, d.logger, reg)
		if err != nil {
			return stages, nil, fmt.Errorf("guards: %w", err)
		}
		if s != nil {
			stages = append(stages, s)
		}
	}
	for _, s := range stages {
		if c, ok := s.(pipeline.Closer); ok {
			closers = append(closers, c)
		}
	}
	return stages, closers, nil
}

// auditRedactor replaces PII and secrets with typed placeholders for
// audit.prompts: redacted.
func auditRedactor() audit.Redactor { return guard.AuditRedactor() }

// defaultClient fetches JWKS and similar control-plane documents.
func defaultClient() *http.Client {
	return &http.Client{Timeout: 15 * time.Second}
}
