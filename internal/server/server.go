// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bulwarkai/bulwark/internal/audit"
	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/pipeline"
	"github.com/bulwarkai/bulwark/internal/telemetry"
)

// Options configure a Server.
type Options struct {
	// ConfigPath is the policy file, watched for changes and re-read on
	// SIGHUP. Empty when Config is given directly (the demo).
	ConfigPath string
	// Config is used when ConfigPath is empty.
	Config *config.Config
	// Stderr receives the process log; Stdout the audit log when its path
	// is "-".
	Stdout, Stderr io.Writer
	// Listen and AdminListen override the config's addresses (flags).
	Listen, AdminListen string
	// ReloadDebounce coalesces bursts of file events. Default 250ms.
	ReloadDebounce time.Duration
}

// Server runs the gateway and admin listeners and owns reloads and
// shutdown.
type Server struct {
	opts    Options
	logger  *slog.Logger
	level   *slog.LevelVar
	metrics *telemetry.Metrics
	tracing *telemetry.Tracing
	handler *pipeline.Handler

	gw, admin     *http.Server
	gwLn, adminLn net.Listener
	tlsConf       atomic.Pointer[tls.Config]
	ready         atomic.Bool

	mu    sync.Mutex // serialises reloads
	cfg   *config.Config
	audit *audit.Log
}

// New loads the config, builds the first pipeline and opens the listeners
// (so that Addr is known before Run).
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.ReloadDebounce == 0 {
		opts.ReloadDebounce = 250 * time.Millisecond
	}
	cfg := opts.Config
	if opts.ConfigPath != "" {
		var err error
		if cfg, err = config.Load(opts.ConfigPath); err != nil {
			return nil, err
		}
	}
	if cfg == nil {
		return nil, errors.New("no config: give a file with -c or use --demo")
	}
	if opts.Listen != "" {
		cfg.Listen = opts.Listen
	}
	if opts.AdminListen != "" {
		cfg.AdminListen = opts.AdminListen
	}
	s := &Server{opts: opts, level: new(slog.LevelVar), metrics: telemetry.NewMetrics(), cfg: cfg}
	s.level.Set(telemetry.ParseLevel(cfg.Telemetry.LogLevel))
	s.logger = telemetry.NewLogger(opts.Stderr, cfg.Telemetry.LogFormat, s.level)

	var err error
	if s.tracing, err = telemetry.NewTracing(ctx, cfg.Telemetry.Tracing); err != nil {
		return nil, err
	}
	if cfg.Audit.Path != "" {
		if s.audit, err = s.openAudit(cfg.Audit.Path); err != nil {
			return nil, err
		}
	}
	p, err := build(ctx, cfg, s.deps())
	if err != nil {
		s.closeAux(ctx)
		return nil, err
	}
	s.handler = pipeline.NewHandler(p, s.logger)
	if cfg.TLS != nil {
		tc, err := serverTLS(cfg.TLS)
		if err != nil {
			p.Retire()
			s.closeAux(ctx)
			return nil, err
		}
		s.tlsConf.Store(tc)
	}
	if err := s.listen(cfg); err != nil {
		p.Retire()
		s.closeAux(ctx)
		return nil, err
	}
	s.metrics.Reloads.WithLabelValues("success").Inc()
	s.metrics.ConfigTimestamp.SetToCurrentTime()
	return s, nil
}

func (s *Server) deps() deps {
	return deps{logger: s.logger, metrics: s.metrics, tracing: s.tracing, audit: s.audit, client: defaultClient()}
}

func (s *Server) openAudit(path string) (*audit.Log, error) {
	if path == "-" {
		return audit.NewWriter(s.opts.Stdout, time.Second, s.logger), nil
	}
	return audit.Open(path, time.Second, s.logger)
}

func (s *Server) listen(cfg *config.Config) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	aln, err := lc.Listen(context.Background(), "tcp", cfg.AdminListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("adminListen %s: %w", cfg.AdminListen, err)
	}
	s.gwLn, s.adminLn = ln, aln
	if cfg.TLS != nil {
		s.gwLn = tls.NewListener(ln, &tls.Config{
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.tlsConf.Load(), nil },
		})
	}
	var h http.Handler = s.handler
	h = s.tracing.Middleware(h)
	h = s.countInflight(h)
	s.gw = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.D(),
		ReadTimeout:       cfg.Server.ReadTimeout.D(),
		IdleTimeout:       cfg.Server.IdleTimeout.D(),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	s.admin = &http.Server{Handler: s.adminMux(), ReadHeaderTimeout: 5 * time.Second}
	return nil
}

func (s *Server) countInflight(next http.Handler) http.Handler {
	g := s.metrics.Inflight
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.Inc()
		defer g.Dec()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) adminMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	return mux
}

// Addr is the gateway's listening address.
func (s *Server) Addr() string { return s.gwLn.Addr().String() }

// AdminAddr is the admin listener's address.
func (s *Server) AdminAddr() string { return s.adminLn.Addr().String() }

// Logger is the process logger.
func (s *Server) Logger() *slog.Logger { return s.logger }

// Run serves until ctx is done, then shuts down gracefully: /readyz turns
// 503, listeners stop accepting, and in-flight requests and streams get
// server.shutdownTimeout to finish.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	tlsOn := s.cfg.TLS != nil
	s.mu.Unlock()
	// Watch before reporting ready, so no edit made after /readyz says
	// ready can be missed.
	stopWatch := s.watch(ctx)

	errc := make(chan error, 2)
	go func() { errc <- s.gw.Serve(s.gwLn) }()
	go func() { errc <- s.admin.Serve(s.adminLn) }()
	s.ready.Store(true)
	s.logger.Info("bulwark serving", "listen", s.Addr(), "admin", s.AdminAddr(), "tls", tlsOn)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		runErr = fmt.Errorf("server stopped: %w", err)
	}
	stopWatch() // no reload may race the shutdown
	return errors.Join(runErr, s.shutdown())
}

func (s *Server) shutdown() error {
	s.ready.Store(false)
	s.mu.Lock()
	timeout := s.cfg.Server.ShutdownTimeout.D()
	s.mu.Unlock()
	s.logger.Info("shutting down", "deadline", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.gw.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.logger.Warn("shutdown deadline reached; closing remaining connections")
		err = s.gw.Close()
	}
	_ = s.admin.Close()
	p := s.handler.Current()
	p.Retire()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
	}
	s.closeAux(context.Background())
	s.logger.Info("shutdown complete")
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) closeAux(ctx context.Context) {
	if s.audit != nil {
		if err := s.audit.Close(); err != nil {
			s.logger.Error("closing audit log", "err", err)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.tracing.Shutdown(sctx); err != nil {
		s.logger.Warn("flushing traces", "err", err)
	}
}

// Reload re-reads the config file and swaps in a new pipeline. A config
// that fails to load or build is rejected: the old one keeps serving, the
// failure is logged and counted.
func (s *Server) Reload(ctx context.Context) error {
	if s.opts.ConfigPath == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.reload(ctx)
	if err != nil {
		s.metrics.Reloads.WithLabelValues("failure").Inc()
		s.logger.Error("config reload rejected; keeping the running config", "path", s.opts.ConfigPath, "err", err)
		return err
	}
	s.metrics.Reloads.WithLabelValues("success").Inc()
	s.metrics.ConfigTimestamp.SetToCurrentTime()
	s.logger.Info("config reloaded", "path", s.opts.ConfigPath)
	return nil
}

func (s *Server) reload(ctx context.Context) error {
	cfg, err := config.Load(s.opts.ConfigPath)
	if err != nil {
		return err
	}
	if s.opts.Listen != "" {
		cfg.Listen = s.opts.Listen
	}
	if s.opts.AdminListen != "" {
		cfg.AdminListen = s.opts.AdminListen
	}
	if cfg.Listen != s.cfg.Listen || cfg.AdminListen != s.cfg.AdminListen || (cfg.TLS == nil) != (s.cfg.TLS == nil) {
		return errors.New("listen, adminListen and turning tls on or off need a restart")
	}
	var tc *tls.Config
	if cfg.TLS != nil {
		if tc, err = serverTLS(cfg.TLS); err != nil {
			return err
		}
	}
	newAudit, oldAudit := s.audit, (*audit.Log)(nil)
	switch {
	case cfg.Audit.Path == "" && s.audit != nil:
		newAudit, oldAudit = nil, s.audit
	case cfg.Audit.Path != "" && (s.audit == nil || s.audit.Path() != cfg.Audit.Path):
		if newAudit, err = s.openAudit(cfg.Audit.Path); err != nil {
			return err
		}
		oldAudit = s.audit
	case s.audit != nil:
		// Same file: reopen it, so SIGHUP after log rotation works.
		if err := s.audit.Reopen(); err != nil {
			return err
		}
	}
	d := s.deps()
	d.audit = newAudit
	p, err := build(ctx, cfg, d)
	if err != nil {
		if newAudit != nil && newAudit != s.audit {
			_ = newAudit.Close()
		}
		return err
	}
	if tc != nil {
		s.tlsConf.Store(tc)
	}
	prev := s.handler.Current()
	s.handler.Swap(p)
	s.cfg, s.audit = cfg, newAudit
	s.level.Set(telemetry.ParseLevel(cfg.Telemetry.LogLevel))
	if oldAudit != nil {
		go func() {
			<-prev.Done()
			_ = oldAudit.Close()
		}()
	}
	return nil
}

// watch reloads on SIGHUP and on changes to the config file. It watches
// the directory, not the file, because editors and Kubernetes ConfigMaps
// replace files by renaming.
func (s *Server) watch(ctx context.Context) (stop func()) {
	if s.opts.ConfigPath == "" {
		return func() {}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})

	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	w, err := fsnotify.NewWatcher()
	if err == nil {
		if err = w.Add(filepath.Dir(s.opts.ConfigPath)); err == nil {
			events, watchErrs = w.Events, w.Errors
		}
	}
	if err != nil {
		s.logger.Warn("not watching config file; reload with SIGHUP", "err", err)
	}
	target := filepath.Clean(s.opts.ConfigPath)
	go func() {
		defer close(done)
		var debounce <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = s.Reload(ctx)
			case err := <-watchErrs: // must be drained, or the watcher stalls
				s.logger.Warn("config watcher error; SIGHUP still reloads", "err", err)
			case ev := <-events:
				if filepath.Clean(ev.Name) == target || filepath.Base(ev.Name) == "..data" {
					debounce = time.After(s.opts.ReloadDebounce)
				}
			case <-debounce:
				debounce = nil
				_ = s.Reload(ctx)
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
		if w != nil {
			_ = w.Close()
		}
	}
}

// serverTLS loads the listener's certificate and client CAs.
func serverTLS(c *config.ServerTLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: loading certificate: %w", err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if c.MinVersion == "1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: reading clientCAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: no certificates in clientCAFile %s", c.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
		if c.ClientAuth == "optional" {
			tc.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	return tc, nil
}
