// SPDX-License-Identifier: Apache-2.0

package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Defaults, in one place. Each says why.
const (
	defaultListen      = ":8080"
	defaultAdminListen = "127.0.0.1:9090" // admin stays on loopback unless asked
	// 1 MiB holds a long multi-turn chat; larger bodies are usually abuse.
	defaultMaxRequestBytes = 1 << 20
	// Streams of long generations run for minutes.
	defaultRouteTimeout = 10 * time.Minute
)

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if c.AdminListen == "" {
		c.AdminListen = defaultAdminListen
	}
	s := &c.Server
	setDur(&s.ReadHeaderTimeout, 10*time.Second)
	setDur(&s.ReadTimeout, 60*time.Second)
	setDur(&s.IdleTimeout, 120*time.Second)
	setDur(&s.ShutdownTimeout, 30*time.Second)
	if c.TLS != nil {
		if c.TLS.ClientAuth == "" && c.TLS.ClientCAFile != "" {
			c.TLS.ClientAuth = "require"
		}
		if c.TLS.MinVersion == "" {
			c.TLS.MinVersion = "1.2"
		}
	}
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		setDur(&u.ConnectTimeout, 5*time.Second)
		setDur(&u.ResponseHeaderTimeout, 120*time.Second)
		setDur(&u.PassiveCooldown, 5*time.Second)
		if h := u.HealthCheck; h != nil {
			if h.Path == "" {
				h.Path = "/health"
			}
			setDur(&h.Interval, 5*time.Second)
			setDur(&h.Timeout, 2*time.Second)
			if h.UnhealthyThreshold == 0 {
				h.UnhealthyThreshold = 2
			}
			if h.HealthyThreshold == 0 {
				h.HealthyThreshold = 1
			}
		}
	}
	for i := range c.Identity.JWT {
		j := &c.Identity.JWT[i]
		setDur(&j.JWKSRefresh, 10*time.Minute)
		setDur(&j.JWKSMinRefresh, 30*time.Second)
		setDur(&j.ClockSkew, 30*time.Second)
		if j.IdentityClaim == "" {
			j.IdentityClaim = "sub"
		}
		if len(j.Algorithms) == 0 {
			j.Algorithms = []string{"RS256", "ES256", "EdDSA", "PS256"}
		}
	}
	if m := c.Identity.MTLS; m != nil && m.IdentityFrom == "" {
		m.IdentityFrom = "uriSAN"
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.MaxRequestBytes == 0 {
			r.MaxRequestBytes = defaultMaxRequestBytes
		}
		setDur(&r.Timeout, defaultRouteTimeout)
		if r.StreamUsage == nil {
			t := true
			r.StreamUsage = &t
		}
		r.applyFeatureDefaults()
	}
	if c.Audit.Prompts == "" {
		c.Audit.Prompts = "none"
	}
	if c.Audit.MaxPromptBytes == 0 {
		c.Audit.MaxPromptBytes = 4096
	}
	if c.Telemetry.LogLevel == "" {
		c.Telemetry.LogLevel = "info"
	}
	if c.Telemetry.LogFormat == "" {
		c.Telemetry.LogFormat = "json"
	}
	if t := c.Telemetry.Tracing; t != nil {
		if t.SampleRatio == nil {
			one := 1.0
			t.SampleRatio = &one
		}
		if t.ServiceName == "" {
			t.ServiceName = "bulwark"
		}
	}
	c.applyLimitStoreDefaults()
}

func setDur(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

// errs collects validation problems with their field paths.
type errs []error

func (e *errs) add(path, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

// Validate reports every problem in c, each prefixed with its field path.
// It is pure: it reads no files and changes nothing.
func (c *Config) Validate() error {
	var e errs
	checkAddr(&e, "listen", c.Listen)
	checkAddr(&e, "adminListen", c.AdminListen)
	if c.Listen == c.AdminListen && !strings.HasSuffix(c.Listen, ":0") {
		e.add("adminListen", "must differ from listen (%q): admin endpoints stay off the data plane", c.Listen)
	}
	if t := c.TLS; t != nil {
		if t.CertFile == "" || t.KeyFile == "" {
			e.add("tls", "certFile and keyFile are both required")
		}
		if !oneOf(t.ClientAuth, "", "require", "optional") {
			e.add("tls.clientAuth", "%q is not one of require|optional", t.ClientAuth)
		}
		if t.ClientAuth != "" && t.ClientCAFile == "" {
			e.add("tls.clientAuth", "needs tls.clientCAFile")
		}
		if !oneOf(t.MinVersion, "1.2", "1.3") {
			e.add("tls.minVersion", "%q is not one of 1.2|1.3", t.MinVersion)
		}
	}
	for i, cidr := range c.Server.TrustedProxies {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			e.add(fmt.Sprintf("server.trustedProxies[%d]", i), "%q is not a CIDR (e.g. 10.0.0.0/8)", cidr)
		}
	}

	upstreams := map[string]bool{}
	for i, u := range c.Upstreams {
		p := fmt.Sprintf("upstreams[%d]", i)
		if !nameRE.MatchString(u.Name) {
			e.add(p+".name", "%q must be 1-63 letters, digits, '.', '_' or '-'", u.Name)
		} else if upstreams[u.Name] {
			e.add(p+".name", "duplicate upstream name %q", u.Name)
		}
		upstreams[u.Name] = true
		if len(u.Endpoints) == 0 {
			e.add(p+".endpoints", "at least one endpoint URL is required")
		}
		for j, ep := range u.Endpoints {
			checkEndpoint(&e, fmt.Sprintf("%s.endpoints[%d]", p, j), ep)
		}
		if h := u.HealthCheck; h != nil {
			if !strings.HasPrefix(h.Path, "/") {
				e.add(p+".healthCheck.path", "%q must start with /", h.Path)
			}
			if h.Timeout >= h.Interval {
				e.add(p+".healthCheck.timeout", "must be shorter than interval (%s)", h.Interval.D())
			}
			if h.UnhealthyThreshold < 1 || h.HealthyThreshold < 1 {
				e.add(p+".healthCheck", "thresholds must be at least 1")
			}
		}
		if a := u.Auth; a != nil && a.BearerTokenEnv != "" && a.BearerTokenFile != "" {
			e.add(p+".auth", "set bearerTokenEnv or bearerTokenFile, not both")
		}
		if t := u.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
			e.add(p+".tls", "certFile and keyFile go together")
		}
	}
	if len(c.Upstreams) == 0 {
		e.add("upstreams", "at least one upstream is required")
	}

	c.Identity.validate(&e)

	routes := map[string]bool{}
	prefixes := map[string]bool{}
	for i := range c.Routes {
		r := &c.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		if !nameRE.MatchString(r.Name) {
			e.add(p+".name", "%q must be 1-63 letters, digits, '.', '_' or '-'", r.Name)
		} else if routes[r.Name] {
			e.add(p+".name", "duplicate route name %q", r.Name)
		}
		routes[r.Name] = true
		if !strings.HasPrefix(r.PathPrefix, "/") {
			e.add(p+".pathPrefix", "%q must start with /", r.PathPrefix)
		} else if prefixes[r.PathPrefix] {
			e.add(p+".pathPrefix", "%q is already used by another route", r.PathPrefix)
		}
		prefixes[r.PathPrefix] = true
		if r.Upstream == "" {
			e.add(p+".upstream", "is required")
		} else if !upstreams[r.Upstream] {
			e.add(p+".upstream", "%q is not defined in upstreams", r.Upstream)
		}
		if r.MaxRequestBytes < 0 {
			e.add(p+".maxRequestBytes", "must be positive")
		}
		if r.MaxOutputTokens < 0 {
			e.add(p+".maxOutputTokens", "must be positive")
		}
		for j, a := range r.Access {
			ap := fmt.Sprintf("%s.access[%d]", p, j)
			if len(a.Identities)+len(a.Tenants)+len(a.Models) == 0 && !a.Deny {
				e.add(ap, "an empty allow rule matches everyone; list identities, tenants or models")
			}
			for k, m := range a.Models {
				if m == "" {
					e.add(fmt.Sprintf("%s.models[%d]", ap, k), "must not be empty")
				}
			}
		}
		r.validateFeatures(&e, p)
	}
	if len(c.Routes) == 0 {
		e.add("routes", "at least one route is required")
	}

	if !oneOf(c.Audit.Prompts, "none", "hash", "redacted") {
		e.add("audit.prompts", "%q is not one of none|hash|redacted", c.Audit.Prompts)
	}
	if c.Audit.MaxPromptBytes < 0 {
		e.add("audit.maxPromptBytes", "must be positive")
	}
	if !oneOf(c.Telemetry.LogLevel, "debug", "info", "warn", "error") {
		e.add("telemetry.logLevel", "%q is not one of debug|info|warn|error", c.Telemetry.LogLevel)
	}
	if !oneOf(c.Telemetry.LogFormat, "json", "text") {
		e.add("telemetry.logFormat", "%q is not one of json|text", c.Telemetry.LogFormat)
	}
	if t := c.Telemetry.Tracing; t != nil {
		if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			e.add("telemetry.tracing.endpoint", "%q must be an http(s) URL such as http://otel-collector:4318", t.Endpoint)
		}
		if r := *t.SampleRatio; r < 0 || r > 1 {
			e.add("telemetry.tracing.sampleRatio", "%v must be within [0,1]", r)
		}
	}
	c.validateLimitStore(&e)

	if len(e) == 0 {
		return nil
	}
	return &ValidationError{Problems: e}
}

// ValidationError lists every problem found; each starts with a field path.
type ValidationError struct{ Problems []error }

func (v *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid config: %d problem(s)", len(v.Problems))
	for _, p := range v.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

func (v *ValidationError) Unwrap() []error { return append([]error{ErrInvalid}, v.Problems...) }

func (id *Identity) validate(e *errs) {
	ids := map[string]bool{}
	hashes := map[string]bool{}
	for i, k := range id.APIKeys {
		p := fmt.Sprintf("identity.apiKeys[%d]", i)
		if k.ID == "" {
			e.add(p+".id", "is required")
		} else if ids[k.ID] {
			e.add(p+".id", "duplicate identity %q", k.ID)
		}
		ids[k.ID] = true
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
			e.add(p+".sha256", "must be 64 hex characters: the SHA-256 of the key (printf %%s \"$KEY\" | sha256sum), never the key itself")
		} else if hashes[strings.ToLower(k.SHA256)] {
			e.add(p+".sha256", "the same key hash is listed twice")
		}
		hashes[strings.ToLower(k.SHA256)] = true
	}
	names := map[string]bool{}
	for i, j := range id.JWT {
		p := fmt.Sprintf("identity.jwt[%d]", i)
		if !nameRE.MatchString(j.Name) {
			e.add(p+".name", "%q must be 1-63 letters, digits, '.', '_' or '-'", j.Name)
		} else if names[j.Name] {
			e.add(p+".name", "duplicate provider name %q", j.Name)
		}
		names[j.Name] = true
		if j.Issuer == "" {
			e.add(p+".issuer", "is required")
		}
		if len(j.Audiences) == 0 {
			e.add(p+".audiences", "at least one audience is required (tokens minted for other services must not be accepted)")
		}
		if (j.JWKSFile == "") == (j.JWKSURL == "") {
			e.add(p, "set exactly one of jwksFile or jwksURL")
		}
		if j.JWKSURL != "" {
			if u, err := url.Parse(j.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				e.add(p+".jwksURL", "%q must be an http(s) URL", j.JWKSURL)
			}
		}
		for k, a := range j.Algorithms {
			if !oneOf(a, "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA") {
				e.add(fmt.Sprintf("%s.algorithms[%d]", p, k), "%q is not an asymmetric JWS algorithm (HS* and none are refused)", a)
			}
		}
	}
	if m := id.MTLS; m != nil {
		if !oneOf(m.IdentityFrom, "uriSAN", "dnsSAN", "emailSAN", "commonName") {
			e.add("identity.mtls.identityFrom", "%q is not one of uriSAN|dnsSAN|emailSAN|commonName", m.IdentityFrom)
		}
		if !oneOf(m.TenantFrom, "", "organization") {
			e.add("identity.mtls.tenantFrom", "%q is not one of organization", m.TenantFrom)
		}
	}
}

func checkAddr(e *errs, path, addr string) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		e.add(path, "%q must be host:port (e.g. 127.0.0.1:8080 or :8080)", addr)
	}
}

func checkEndpoint(e *errs, path, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		e.add(path, "%q is not a URL: %v", raw, errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https":
		e.add(path, "scheme %q not allowed (want http|https)", u.Scheme)
	case u.Host == "":
		e.add(path, "%q has no host", raw)
	case u.RawQuery != "" || u.Fragment != "":
		e.add(path, "%q must not have a query or fragment", raw)
	}
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// cleanYAMLError makes sigs.k8s.io/yaml's strict-decoding errors read as
// field problems.
func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "error unmarshaling JSON: while decoding JSON: ")
	s = strings.ReplaceAll(s, "json: unknown field", "unknown field")
	return s
}
