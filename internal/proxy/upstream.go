// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/pipeline"
	"github.com/bulwarkai/bulwark/internal/telemetry"
)

// Upstream is a pool of endpoints behind one ReverseProxy. It picks the
// healthy endpoint with the fewest requests in flight.
type Upstream struct {
	name      string
	endpoints []*endpoint
	proxy     *httputil.ReverseProxy
	transport *http.Transport
	authz     string
	headers   map[string]string
	cooldown  time.Duration
	metrics   *telemetry.Metrics
	logger    *slog.Logger
	next      atomic.Uint32 // rotates the starting point among equally loaded endpoints
	stop      context.CancelFunc
	stopped   sync.WaitGroup
}

type endpoint struct {
	url      *url.URL
	raw      string
	inflight atomic.Int64
	healthy  atomic.Bool
	// downUntil (unix nanos) skips an endpoint that just refused a
	// connection, before active checks (if any) notice.
	downUntil atomic.Int64
}

var (
	_ pipeline.Forwarder = (*Upstream)(nil)
	_ pipeline.Closer    = (*Upstream)(nil)
)

// New builds the pool for one upstream and starts its health checks.
func New(cfg *config.Upstream, m *telemetry.Metrics, logger *slog.Logger) (*Upstream, error) {
	u := &Upstream{name: cfg.Name, cooldown: cfg.PassiveCooldown.D(), metrics: m, logger: logger.With("upstream", cfg.Name)}
	for _, raw := range cfg.Endpoints {
		pu, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("upstream %q: endpoint %q: %w", cfg.Name, raw, err)
		}
		ep := &endpoint{url: pu, raw: raw}
		ep.healthy.Store(true)
		u.endpoints = append(u.endpoints, ep)
	}
	tlsConf, err := clientTLS(cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", cfg.Name, err)
	}
	if a := cfg.Auth; a != nil {
		token, err := bearerToken(a)
		if err != nil {
			return nil, fmt.Errorf("upstream %q: %w", cfg.Name, err)
		}
		if token != "" {
			u.authz = "Bearer " + token
		}
		u.headers = a.Headers
	}
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout.D(), KeepAlive: 30 * time.Second}
	u.transport = &http.Transport{
		Proxy:       nil, // an inference backend is never reached through HTTP_PROXY
		DialContext: dialer.DialContext,
		// Many clients share few upstreams: keep plenty of warm connections.
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.ConnectTimeout.D(),
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout.D(),
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		// Output guards and usage accounting read the body: ask for it
		// uncompressed rather than have the transport guess.
		DisableCompression: true,
	}
	u.proxy = &httputil.ReverseProxy{
		Rewrite:        u.rewrite,
		Transport:      u.transport,
		ModifyResponse: u.modifyResponse,
		ErrorHandler:   u.errorHandler,
		BufferPool:     bufferPool{},
		ErrorLog:       slog.NewLogLogger(u.logger.Handler(), slog.LevelDebug),
	}
	for _, ep := range u.endpoints {
		m.EndpointHealthy.WithLabelValues(u.name, ep.raw).Set(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	u.stop = cancel
	if hc := cfg.HealthCheck; hc != nil {
		for _, ep := range u.endpoints {
			u.stopped.Add(1)
			go u.check(ctx, ep, hc)
		}
	}
	return u, nil
}

// Name implements pipeline.Forwarder.
func (u *Upstream) Name() string { return u.name }

// Close stops health checks and drops idle connections.
func (u *Upstream) Close() error {
	u.stop()
	u.stopped.Wait()
	u.transport.CloseIdleConnections()
	return nil
}

func bearerToken(a *config.UpstreamAuth) (string, error) {
	switch {
	case a.BearerTokenEnv != "":
		v := os.Getenv(a.BearerTokenEnv)
		if v == "" {
			return "", fmt.Errorf("auth.bearerTokenEnv: environment variable %s is empty", a.BearerTokenEnv)
		}
		return v, nil
	case a.BearerTokenFile != "":
		b, err := os.ReadFile(a.BearerTokenFile)
		if err != nil {
			return "", fmt.Errorf("auth.bearerTokenFile: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

func clientTLS(c *config.UpstreamTLS) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c == nil {
		return conf, nil
	}
	conf.ServerName = c.ServerName
	conf.InsecureSkipVerify = c.UnsafeSkipVerify //nolint:gosec // opt-in, named Unsafe, documented
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.caFile: no certificates in %s", c.CAFile)
		}
		conf.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// pick returns the available endpoint with the fewest requests in flight,
// starting the scan at a rotating index so ties spread evenly.
func (u *Upstream) pick() *endpoint {
	n := len(u.endpoints)
	if n == 1 {
		if ep := u.endpoints[0]; ep.available(time.Now().UnixNano()) {
			return ep
		}
		return nil
	}
	now := time.Now().UnixNano()
	start := int(u.next.Add(1)) % n
	var best *endpoint
	var bestLoad int64
	for i := range n {
		ep := u.endpoints[(start+i)%n]
		if !ep.available(now) {
			continue
		}
		if load := ep.inflight.Load(); best == nil || load < bestLoad {
			best, bestLoad = ep, load
		}
	}
	return best
}

func (ep *endpoint) available(now int64) bool {
	return ep.healthy.Load() && ep.downUntil.Load() <= now
}

type ctxKey struct{}

// forward is what Rewrite and the hooks need about the request in flight.
type forward struct {
	rc *pipeline.RequestContext
	ep *endpoint
	// sent is when the request left for the upstream.
	sent time.Time
}

// Forward implements pipeline.Forwarder.
func (u *Upstream) Forward(w http.ResponseWriter, r *http.Request, rc *pipeline.RequestContext) {
	rc.Upstream = u.name
	ep := u.pick()
	if ep == nil {
		pipeline.Deny(w, rc, &pipeline.Decision{Status: http.StatusServiceUnavailable, Type: pipeline.TypeUpstream,
			Code: "no_healthy_upstream", Message: "No healthy upstream is available.", Stage: "upstream", Rule: "no_healthy_endpoint"})
		return
	}
	rc.Endpoint = ep.raw
	ep.inflight.Add(1)
	defer ep.inflight.Add(-1)

	f := &forward{rc: rc, ep: ep}
	u.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, f)))
}

func (u *Upstream) rewrite(pr *httputil.ProxyRequest) {
	f := pr.In.Context().Value(ctxKey{}).(*forward)
	rc := f.rc
	pr.SetURL(f.ep.url)
	pr.SetXForwarded()
	out := pr.Out
	if rc.Body != nil {
		out.Body = io.NopCloser(bytes.NewReader(rc.Body))
		out.ContentLength = int64(len(rc.Body))
		out.Header.Set("Content-Length", fmt.Sprint(len(rc.Body)))
	}
	h := out.Header
	// Never forward the client's credentials; present ours instead.
	h.Del("Authorization")
	h.Del("X-Api-Key")
	h.Del("Accept-Encoding")
	if u.authz != "" {
		h.Set("Authorization", u.authz)
	}
	for k, v := range u.headers {
		h.Set(k, v)
	}
	h.Set("X-Request-Id", rc.ID)
	otel.GetTextMapPropagator().Inject(pr.In.Context(), propagation.HeaderCarrier(h))
	f.sent = time.Now()
}

func (u *Upstream) modifyResponse(res *http.Response) error {
	f := res.Request.Context().Value(ctxKey{}).(*forward)
	rc := f.rc
	rc.UpstreamLatency = time.Since(f.sent)
	u.metrics.ObserveUpstream(u.name, rc.UpstreamLatency)
	if rc.LLM != nil {
		observeUsage(res, rc)
	}
	for _, s := range rc.Route.ResponseStages() {
		d, err := s.OnResponse(res.Request.Context(), rc, res)
		if err != nil {
			d = pipeline.DecisionFor("response", err)
		}
		if d != nil {
			return &deniedError{d: d}
		}
	}
	return nil
}

// deniedError carries a response stage's decision to the ErrorHandler.
type deniedError struct{ d *pipeline.Decision }

func (e *deniedError) Error() string { return "response denied by " + e.d.Stage }

func (u *Upstream) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	f := r.Context().Value(ctxKey{}).(*forward)
	rc := f.rc
	var de *deniedError
	switch {
	case errors.As(err, &de):
		pipeline.Deny(w, rc, de.d)
		return
	case errors.Is(r.Context().Err(), context.Canceled) && !errors.Is(context.Cause(r.Context()), context.DeadlineExceeded):
		// The client went away; nobody is left to answer. 499 as nginx does.
		rc.Status = 499
		rc.Decision = &pipeline.Decision{Status: 499, Stage: "upstream", Rule: "client_closed", Reason: err.Error()}
		return
	case isTimeout(err) || errors.Is(r.Context().Err(), context.DeadlineExceeded):
		pipeline.Deny(w, rc, &pipeline.Decision{Status: http.StatusGatewayTimeout, Type: pipeline.TypeUpstream, Code: "upstream_timeout",
			Message: "The upstream did not answer in time.", Stage: "upstream", Rule: "timeout", Reason: err.Error()})
	default:
		if isConnectError(err) {
			f.ep.downUntil.Store(time.Now().Add(u.cooldown).UnixNano())
		}
		u.logger.Warn("upstream request failed", "endpoint", f.ep.raw, "request_id", rc.ID, "err", err)
		pipeline.Deny(w, rc, &pipeline.Decision{Status: http.StatusBadGateway, Type: pipeline.TypeUpstream, Code: "upstream_unreachable",
			Message: "The upstream could not be reached.", Stage: "upstream", Rule: "unreachable", Reason: err.Error()})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// isConnectError is true when no request reached the endpoint, so marking
// it down (passive health) is safe.
func isConnectError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// check probes one endpoint until ctx ends.
func (u *Upstream) check(ctx context.Context, ep *endpoint, hc *config.HealthCheck) {
	defer u.stopped.Done()
	client := &http.Client{Transport: u.transport, Timeout: hc.Timeout.D()}
	target := ep.url.JoinPath(hc.Path).String()
	var ok, fail int
	probe := func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return
		}
		if u.authz != "" {
			req.Header.Set("Authorization", u.authz)
		}
		res, err := client.Do(req)
		good := err == nil && res.StatusCode >= 200 && res.StatusCode < 300
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
		}
		if ctx.Err() != nil {
			return
		}
		if good {
			ok, fail = ok+1, 0
			if !ep.healthy.Load() && ok >= hc.HealthyThreshold {
				ep.healthy.Store(true)
				u.metrics.EndpointHealthy.WithLabelValues(u.name, ep.raw).Set(1)
				u.logger.Info("endpoint healthy", "endpoint", ep.raw)
			}
			return
		}
		ok, fail = 0, fail+1
		if ep.healthy.Load() && fail >= hc.UnhealthyThreshold {
			ep.healthy.Store(false)
			u.metrics.EndpointHealthy.WithLabelValues(u.name, ep.raw).Set(0)
			reason := "bad status"
			if err != nil {
				reason = err.Error()
			} else {
				reason = fmt.Sprintf("status %d", res.StatusCode)
			}
			u.logger.Warn("endpoint unhealthy", "endpoint", ep.raw, "reason", reason)
		}
	}
	probe()
	t := time.NewTicker(hc.Interval.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			probe()
		}
	}
}

// bufferPool lends ReverseProxy its copy buffers.
type bufferPool struct{}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(bufPool.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { bufPool.Put(&b) }
