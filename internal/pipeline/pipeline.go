// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Forwarder sends an admitted request upstream and streams the answer back.
// It records Status, Endpoint, Usage and latency on rc, and on failure sets
// rc.Decision and writes the error itself.
type Forwarder interface {
	Name() string
	Forward(w http.ResponseWriter, r *http.Request, rc *RequestContext)
}

// Observer sees every finished request: the audit log and metrics.
type Observer interface {
	Observe(rc *RequestContext)
}

// Route is one compiled route: its policy and its stages, built once.
type Route struct {
	Name            string
	Prefix          string
	MaxRequestBytes int64
	Timeout         time.Duration
	Passthrough     bool
	Anonymous       bool
	// StreamUsage asks streaming upstreams for usage (see config.Route).
	StreamUsage bool
	// Authn runs before the body is read, so unauthenticated clients
	// cannot make the gateway buffer anything.
	Authn Stage
	// Stages run in order once the body is read and parsed.
	Stages   []Stage
	Upstream Forwarder

	responseStages []ResponseStage
}

// ResponseStages are the stages that also inspect responses.
func (r *Route) ResponseStages() []ResponseStage { return r.responseStages }

// Options configure a Pipeline.
type Options struct {
	Routes         []*Route
	Observers      []Observer
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// Closers are released when the pipeline retires and its last request
	// has finished.
	Closers []Closer
}

// Pipeline is an immutable, compiled config. It is swapped whole on reload
// and retired (its resources closed) once its last request finishes.
type Pipeline struct {
	routes    []*Route
	observers []Observer
	trusted   []netip.Prefix
	logger    *slog.Logger
	closers   []Closer

	refs      atomic.Int64
	retired   atomic.Bool
	closeOnce sync.Once
	closed    chan struct{}
}

// New compiles a Pipeline. Routes are matched longest prefix first.
func New(o Options) *Pipeline {
	p := &Pipeline{
		routes:    append([]*Route(nil), o.Routes...),
		observers: o.Observers,
		trusted:   o.TrustedProxies,
		logger:    o.Logger,
		closers:   o.Closers,
		closed:    make(chan struct{}),
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	sort.SliceStable(p.routes, func(i, j int) bool { return len(p.routes[i].Prefix) > len(p.routes[j].Prefix) })
	for _, r := range p.routes {
		r.responseStages = r.responseStages[:0]
		for _, s := range r.Stages {
			if rs, ok := s.(ResponseStage); ok {
				r.responseStages = append(r.responseStages, rs)
			}
		}
	}
	return p
}

// Routes returns the compiled routes, longest prefix first.
func (p *Pipeline) Routes() []*Route { return p.routes }

func (p *Pipeline) match(path string) *Route {
	for _, r := range p.routes {
		if strings.HasPrefix(path, r.Prefix) {
			return r
		}
	}
	return nil
}

// acquire pins p for one request. It fails if p has been retired, in
// which case the caller loads the current pipeline again.
func (p *Pipeline) acquire() bool {
	p.refs.Add(1)
	if p.retired.Load() {
		p.release()
		return false
	}
	return true
}

func (p *Pipeline) release() {
	if p.refs.Add(-1) == 0 && p.retired.Load() {
		p.close()
	}
}

// Retire marks p as replaced; its resources are closed as soon as its last
// in-flight request (or stream) ends.
func (p *Pipeline) Retire() {
	p.retired.Store(true)
	if p.refs.Load() == 0 {
		p.close()
	}
}

// Done is closed once a retired pipeline has released its resources.
func (p *Pipeline) Done() <-chan struct{} { return p.closed }

func (p *Pipeline) close() {
	p.closeOnce.Do(func() {
		var errs []error
		for _, c := range p.closers {
			errs = append(errs, c.Close())
		}
		if err := errors.Join(errs...); err != nil {
			p.logger.Warn("closing retired pipeline", "err", err)
		}
		close(p.closed)
	})
}

// clientIP is the TCP peer, or for a trusted proxy the rightmost
// X-Forwarded-For address that is not itself a trusted proxy.
func (p *Pipeline) clientIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if len(p.trusted) == 0 || !p.isTrusted(ip) {
		return ip
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return ip
			}
			a = a.Unmap()
			if !p.isTrusted(a) {
				return a
			}
			ip = a
		}
	}
	return ip
}

func (p *Pipeline) isTrusted(ip netip.Addr) bool {
	for _, pfx := range p.trusted {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}
