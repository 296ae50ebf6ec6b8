// SPDX-License-Identifier: Apache-2.0

package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// jwtProvider verifies tokens of one issuer against a cached JWKS that is
// refreshed in the background and, at most once per minRefresh, when a
// token names an unknown key id (key rotation).
type jwtProvider struct {
	cfg    *config.JWTProvider
	algs   []jose.SignatureAlgorithm
	client *http.Client
	logger *slog.Logger

	mu          sync.RWMutex
	keys        jose.JSONWebKeySet
	lastFetch   time.Time
	fetchMu     sync.Mutex // one fetch at a time
	stop        context.CancelFunc
	stopped     chan struct{}
	maxJWKSSize int64
}

func newJWTProvider(ctx context.Context, cfg *config.JWTProvider, client *http.Client, logger *slog.Logger) (*jwtProvider, error) {
	p := &jwtProvider{cfg: cfg, client: client, logger: logger, maxJWKSSize: 1 << 20}
	for _, a := range cfg.Algorithms {
		p.algs = append(p.algs, jose.SignatureAlgorithm(a))
	}
	if err := p.refresh(ctx); err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.stop = cancel
	p.stopped = make(chan struct{})
	go p.refreshLoop(bg)
	return p, nil
}

func (p *jwtProvider) close() {
	if p.stop != nil {
		p.stop()
		<-p.stopped
	}
}

func (p *jwtProvider) refreshLoop(ctx context.Context) {
	defer close(p.stopped)
	t := time.NewTicker(p.cfg.JWKSRefresh.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.refresh(ctx); err != nil {
				// Keep the keys we have: an IdP blip must not lock everyone out.
				p.logger.Warn("jwks refresh failed; keeping cached keys", "provider", p.cfg.Name, "err", err)
			}
		}
	}
}

// refresh loads the JWKS and replaces the cached set.
func (p *jwtProvider) refresh(ctx context.Context) error {
	p.fetchMu.Lock()
	defer p.fetchMu.Unlock()
	data, err := p.load(ctx)
	if err != nil {
		return err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return fmt.Errorf("parsing jwks: %w", err)
	}
	if len(set.Keys) == 0 {
		return errors.New("jwks has no keys")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return fmt.Errorf("jwks key %q is not a public key", k.KeyID)
		}
	}
	p.mu.Lock()
	p.keys = set
	p.lastFetch = time.Now()
	p.mu.Unlock()
	return nil
}

func (p *jwtProvider) load(ctx context.Context) ([]byte, error) {
	if p.cfg.JWKSFile != "" {
		b, err := os.ReadFile(p.cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("reading jwks: %w", err)
		}
		return b, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.JWKSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching jwks: %w", err)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching jwks: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching jwks: status %d", res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, p.maxJWKSSize))
	if err != nil {
		return nil, fmt.Errorf("fetching jwks: %w", err)
	}
	return b, nil
}

// key finds the verification key for kid, refetching once (rate-limited)
// if it is unknown.
func (p *jwtProvider) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	if k := p.lookup(kid); k != nil {
		return k, nil
	}
	p.mu.RLock()
	recent := time.Since(p.lastFetch) < p.cfg.JWKSMinRefresh.D()
	p.mu.RUnlock()
	if !recent {
		if err := p.refresh(ctx); err != nil {
			p.logger.Warn("jwks refetch for unknown kid failed", "provider", p.cfg.Name, "err", err)
		}
		if k := p.lookup(kid); k != nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("no key with kid %q", kid)
}

func (p *jwtProvider) lookup(kid string) *jose.JSONWebKey {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if kid == "" && len(p.keys.Keys) == 1 {
		return &p.keys.Keys[0]
	}
	if ks := p.keys.Key(kid); len(ks) > 0 {
		return &ks[0]
	}
	return nil
}

var errWrongIssuer = errors.New("issuer not configured")

// verifyJWT routes the token to the provider named by its (unverified)
// issuer, which then verifies signature, algorithm and claims.
func (s *Stage) verifyJWT(ctx context.Context, token string) (pipeline.Identity, error) {
	tok, err := jwt.ParseSigned(token, s.jwtAlgs)
	if err != nil {
		return pipeline.Identity{}, fmt.Errorf("parsing: %w", err)
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return pipeline.Identity{}, fmt.Errorf("claims: %w", err)
	}
	var last error = errWrongIssuer
	for _, p := range s.jwt {
		if unverified.Issuer != p.cfg.Issuer {
			continue
		}
		id, err := p.verify(ctx, tok)
		if err == nil {
			return id, nil
		}
		last = err
	}
	return pipeline.Identity{}, last
}

func (p *jwtProvider) verify(ctx context.Context, tok *jwt.JSONWebToken) (pipeline.Identity, error) {
	if len(tok.Headers) != 1 {
		return pipeline.Identity{}, errors.New("want exactly one signature")
	}
	if !slices.Contains(p.algs, jose.SignatureAlgorithm(tok.Headers[0].Algorithm)) {
		return pipeline.Identity{}, fmt.Errorf("algorithm %q not allowed for this issuer", tok.Headers[0].Algorithm)
	}
	key, err := p.key(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return pipeline.Identity{}, err
	}
	var std jwt.Claims
	all := map[string]any{}
	if err := tok.Claims(key.Key, &std, &all); err != nil {
		return pipeline.Identity{}, fmt.Errorf("signature: %w", err)
	}
	if std.Expiry == nil {
		return pipeline.Identity{}, errors.New("token has no exp")
	}
	exp := jwt.Expected{Issuer: p.cfg.Issuer, AnyAudience: p.cfg.Audiences, Time: time.Now()}
	if err := std.ValidateWithLeeway(exp, p.cfg.ClockSkew.D()); err != nil {
		return pipeline.Identity{}, err
	}
	id := pipeline.Identity{Method: "jwt", Claims: all}
	id.ID = claimString(all[p.cfg.IdentityClaim])
	if id.ID == "" {
		return pipeline.Identity{}, fmt.Errorf("identity claim %q missing", p.cfg.IdentityClaim)
	}
	if p.cfg.TenantClaim != "" {
		id.Tenant = claimString(all[p.cfg.TenantClaim])
	}
	return id, nil
}

// claimString reads a string claim, or the first string of an array claim
// (groups, roles).
func claimString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		if len(t) > 0 {
			if s, ok := t[0].(string); ok {
				return s
			}
		}
	}
	return ""
}
