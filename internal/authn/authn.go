// SPDX-License-Identifier: Apache-2.0

package authn

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// Stage authenticates requests.
type Stage struct {
	keys map[[32]byte]pipeline.Identity
	jwt  []*jwtProvider
	// jwtAlgs is the union of the providers' algorithms, for parsing;
	// each provider then checks its own list.
	jwtAlgs []jose.SignatureAlgorithm
	mtls    *config.MTLSIdentity
	logger  *slog.Logger
}

var (
	_ pipeline.Stage  = (*Stage)(nil)
	_ pipeline.Closer = (*Stage)(nil)
)

// New compiles the identity config. JWKS files are read and JWKS URLs
// fetched here (with ctx), so a broken provider fails the (re)load rather
// than the first request.
func New(ctx context.Context, cfg config.Identity, client *http.Client, logger *slog.Logger) (*Stage, error) {
	s := &Stage{keys: make(map[[32]byte]pipeline.Identity, len(cfg.APIKeys)), mtls: cfg.MTLS, logger: logger}
	for _, k := range cfg.APIKeys {
		var h [32]byte
		if _, err := hex.Decode(h[:], []byte(strings.ToLower(k.SHA256))); err != nil {
			return nil, fmt.Errorf("api key %q: %w", k.ID, err)
		}
		s.keys[h] = pipeline.Identity{ID: k.ID, Tenant: k.Tenant, Method: "apiKey"}
	}
	for i := range cfg.JWT {
		p, err := newJWTProvider(ctx, &cfg.JWT[i], client, logger)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("jwt provider %q: %w", cfg.JWT[i].Name, err)
		}
		s.jwt = append(s.jwt, p)
		for _, a := range p.algs {
			if !slices.Contains(s.jwtAlgs, a) {
				s.jwtAlgs = append(s.jwtAlgs, a)
			}
		}
	}
	return s, nil
}

// Name implements pipeline.Stage.
func (s *Stage) Name() string { return "identity" }

// Close stops JWKS refreshers.
func (s *Stage) Close() error {
	for _, p := range s.jwt {
		p.close()
	}
	return nil
}

var errNoCredential = errors.New("no credential")

// OnRequest implements pipeline.Stage. Methods are tried in a fixed order:
// a verified client certificate, then x-api-key / Authorization: Bearer.
// A credential that is present but wrong is refused even on anonymous
// routes: a typo must not silently downgrade a caller to anonymous.
func (s *Stage) OnRequest(ctx context.Context, rc *pipeline.RequestContext) (*pipeline.Decision, error) {
	r := rc.Request
	token := credential(r.Header)
	// The upstream must never see the client's key.
	r.Header.Del("Authorization")
	r.Header.Del("X-Api-Key")

	if s.mtls != nil && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		if id, ok := s.fromCert(r.TLS.VerifiedChains[0][0]); ok {
			rc.Identity = id
			return nil, nil
		}
	}
	if token == "" {
		if rc.Route != nil && rc.Route.Anonymous {
			rc.Identity = pipeline.Identity{ID: "anonymous", Method: "anonymous"}
			return nil, nil
		}
		return unauthorized("missing_credentials", "Missing credentials: send an API key in the Authorization: Bearer or x-api-key header.", errNoCredential.Error()), nil
	}
	if id, ok := s.keys[sha256.Sum256([]byte(token))]; ok {
		rc.Identity = id
		return nil, nil
	}
	if len(s.jwt) > 0 && strings.Count(token, ".") == 2 {
		id, err := s.verifyJWT(ctx, token)
		if err == nil {
			rc.Identity = id
			return nil, nil
		}
		return unauthorized("invalid_credentials", "Invalid credentials.", "jwt: "+err.Error()), nil
	}
	return unauthorized("invalid_credentials", "Invalid credentials.", "unknown api key"), nil
}

func unauthorized(code, msg, reason string) *pipeline.Decision {
	return &pipeline.Decision{
		Status: http.StatusUnauthorized, Type: pipeline.TypeAuthentication, Code: code, Message: msg,
		Rule: code, Reason: reason,
		Header: http.Header{"Www-Authenticate": {`Bearer realm="bulwark"`}},
	}
}

// credential returns the bearer token or x-api-key value.
func credential(h http.Header) string {
	if v := h.Get("X-Api-Key"); v != "" {
		return strings.TrimSpace(v)
	}
	v := h.Get("Authorization")
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}

// fromCert derives an identity from a verified client certificate.
func (s *Stage) fromCert(c *x509.Certificate) (pipeline.Identity, bool) {
	id := pipeline.Identity{Method: "mtls"}
	switch s.mtls.IdentityFrom {
	case "uriSAN":
		if len(c.URIs) > 0 {
			id.ID = c.URIs[0].String()
		}
	case "dnsSAN":
		if len(c.DNSNames) > 0 {
			id.ID = c.DNSNames[0]
		}
	case "emailSAN":
		if len(c.EmailAddresses) > 0 {
			id.ID = c.EmailAddresses[0]
		}
	case "commonName":
		id.ID = c.Subject.CommonName
	}
	if s.mtls.TenantFrom == "organization" && len(c.Subject.Organization) > 0 {
		id.Tenant = c.Subject.Organization[0]
	}
	return id, id.ID != ""
}
