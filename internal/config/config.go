// SPDX-License-Identifier: Apache-2.0

package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"sigs.k8s.io/yaml"
)

// Config is the root of the policy file.
type Config struct {
	// Listen is the gateway's address. Default ":8080".
	Listen string `json:"listen,omitempty"`
	// AdminListen serves /metrics, /healthz and /readyz, kept off the data
	// plane so scrapers and probes never share a port with clients.
	// Default "127.0.0.1:9090".
	AdminListen string `json:"adminListen,omitempty"`
	// TLS turns on HTTPS (and optionally mTLS) for Listen. Off by default.
	TLS *ServerTLS `json:"tls,omitempty"`
	// Server holds listener timeouts and the shutdown deadline.
	Server Server `json:"server,omitzero"`
	// Upstreams are the inference servers, each a pool of endpoints.
	Upstreams []Upstream `json:"upstreams,omitempty"`
	// Identity lists the ways a caller can prove who it is.
	Identity Identity `json:"identity,omitzero"`
	// Routes map path prefixes to upstreams, first match wins.
	Routes []Route `json:"routes,omitempty"`
	// Audit configures the one-line-per-request audit log.
	Audit Audit `json:"audit,omitzero"`
	// Telemetry configures logs and traces; metrics are always on.
	Telemetry Telemetry `json:"telemetry,omitzero"`
	// LimitStore is where limit counters live. Omit it for the in-memory
	// store (correct for a single replica only).
	LimitStore *LimitStore `json:"limitStore,omitempty"`
}

// Server holds HTTP server timeouts. Zero values take the defaults below.
type Server struct {
	// ReadHeaderTimeout bounds slow-loris clients. Default 10s.
	ReadHeaderTimeout Duration `json:"readHeaderTimeout,omitempty"`
	// ReadTimeout bounds reading the whole request body. Default 60s.
	ReadTimeout Duration `json:"readTimeout,omitempty"`
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout Duration `json:"idleTimeout,omitempty"`
	// ShutdownTimeout is how long in-flight requests and streams may run
	// after SIGTERM before connections are closed. Default 30s.
	ShutdownTimeout Duration `json:"shutdownTimeout,omitempty"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed when
	// deciding the client address. Default none: the TCP peer is the client.
	TrustedProxies []string `json:"trustedProxies,omitempty"`
}

// ServerTLS configures HTTPS on the gateway listener.
type ServerTLS struct {
	// CertFile and KeyFile are PEM files; both are re-read on reload.
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
	// ClientCAFile enables mTLS: client certificates are verified against
	// these CAs.
	ClientCAFile string `json:"clientCAFile,omitempty"`
	// ClientAuth is "require" (default when ClientCAFile is set: no
	// certificate, no connection) or "optional" (verify if presented, so
	// API keys and JWTs keep working on the same port).
	ClientAuth string `json:"clientAuth,omitempty"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `json:"minVersion,omitempty"`
}

// Upstream is a pool of interchangeable endpoints serving the same models.
type Upstream struct {
	Name string `json:"name"`
	// Endpoints are base URLs (http or https). Requests go to the healthy
	// endpoint with the fewest requests in flight.
	Endpoints []string `json:"endpoints"`
	// HealthCheck probes each endpoint in the background. Off by default:
	// every endpoint is presumed healthy, and one that refuses connections is
	// taken out passively for PassiveCooldown.
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	// ConnectTimeout bounds TCP+TLS setup. Default 5s.
	ConnectTimeout Duration `json:"connectTimeout,omitempty"`
	// ResponseHeaderTimeout bounds the wait for the upstream's first
	// response byte (504 when exceeded). LLMs can think for a while before
	// answering, so the default is generous: 120s.
	ResponseHeaderTimeout Duration `json:"responseHeaderTimeout,omitempty"`
	// PassiveCooldown is how long an endpoint that failed to connect is
	// skipped. Default 5s.
	PassiveCooldown Duration `json:"passiveCooldown,omitempty"`
	// Auth is the credential Bulwark presents upstream. The client's own key
	// is never forwarded.
	Auth *UpstreamAuth `json:"auth,omitempty"`
	// TLS configures how Bulwark verifies https endpoints.
	TLS *UpstreamTLS `json:"tls,omitempty"`
}

// HealthCheck is an active HTTP probe.
type HealthCheck struct {
	// Path is requested with GET; any 2xx is healthy. Default "/health".
	Path string `json:"path,omitempty"`
	// Interval between probes. Default 5s.
	Interval Duration `json:"interval,omitempty"`
	// Timeout per probe. Default 2s.
	Timeout Duration `json:"timeout,omitempty"`
	// UnhealthyThreshold consecutive failures mark an endpoint down. Default 2.
	UnhealthyThreshold int `json:"unhealthyThreshold,omitempty"`
	// HealthyThreshold consecutive successes bring it back. Default 1.
	HealthyThreshold int `json:"healthyThreshold,omitempty"`
}

// UpstreamAuth sets the Authorization header sent upstream.
type UpstreamAuth struct {
	// BearerTokenEnv names an environment variable holding the token.
	BearerTokenEnv string `json:"bearerTokenEnv,omitempty"`
	// BearerTokenFile is a file holding the token (e.g. a mounted Secret);
	// re-read on reload.
	BearerTokenFile string `json:"bearerTokenFile,omitempty"`
	// Headers are extra static headers (e.g. "api-key" for Azure).
	Headers map[string]string `json:"headers,omitempty"`
}

// UpstreamTLS configures verification of https upstreams.
type UpstreamTLS struct {
	// CAFile verifies the upstream's certificate; default system roots.
	CAFile string `json:"caFile,omitempty"`
	// ServerName overrides SNI and the verified name.
	ServerName string `json:"serverName,omitempty"`
	// CertFile/KeyFile present a client certificate upstream (mTLS).
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// UnsafeSkipVerify disables certificate checks. Never in production.
	UnsafeSkipVerify bool `json:"unsafeSkipVerify,omitempty"`
}

// Identity configures authentication. Methods are tried in order: mTLS
// client certificate, API key, JWT. A request proving no identity is refused
// with 401 unless its route allows anonymous access.
type Identity struct {
	APIKeys []APIKey      `json:"apiKeys,omitempty"`
	JWT     []JWTProvider `json:"jwt,omitempty"`
	MTLS    *MTLSIdentity `json:"mtls,omitempty"`
}

// APIKey is one client key, stored only as its SHA-256.
type APIKey struct {
	// ID names the identity in logs, metrics and access rules.
	ID string `json:"id"`
	// Tenant groups identities for access rules and limits.
	Tenant string `json:"tenant,omitempty"`
	// SHA256 is the lowercase hex SHA-256 of the key
	// (`printf %s "$KEY" | sha256sum`).
	SHA256 string `json:"sha256"`
}

// JWTProvider accepts bearer JWTs from one issuer.
type JWTProvider struct {
	Name string `json:"name"`
	// Issuer must equal the token's iss claim.
	Issuer string `json:"issuer"`
	// Audiences: the token's aud must contain at least one of them.
	Audiences []string `json:"audiences"`
	// JWKSFile or JWKSURL provides the signing keys (exactly one).
	JWKSFile string `json:"jwksFile,omitempty"`
	JWKSURL  string `json:"jwksURL,omitempty"`
	// JWKSRefresh is how often the JWKS is re-fetched; an unknown kid also
	// triggers a refetch, at most once per JWKSMinRefresh. Default 10m.
	JWKSRefresh Duration `json:"jwksRefresh,omitempty"`
	// JWKSMinRefresh rate-limits kid-miss refetches. Default 30s.
	JWKSMinRefresh Duration `json:"jwksMinRefresh,omitempty"`
	// IdentityClaim names the claim used as identity. Default "sub".
	IdentityClaim string `json:"identityClaim,omitempty"`
	// TenantClaim names the claim used as tenant. Optional.
	TenantClaim string `json:"tenantClaim,omitempty"`
	// Algorithms allowed. Default RS256, ES256, EdDSA, PS256.
	Algorithms []string `json:"algorithms,omitempty"`
	// ClockSkew tolerated on exp/nbf/iat. Default 30s.
	ClockSkew Duration `json:"clockSkew,omitempty"`
}

// MTLSIdentity derives identity from a verified client certificate.
type MTLSIdentity struct {
	// IdentityFrom is "uriSAN" (SPIFFE IDs; default), "dnsSAN", "emailSAN"
	// or "commonName".
	IdentityFrom string `json:"identityFrom,omitempty"`
	// TenantFrom is "organization" (the first O of the subject) or empty.
	TenantFrom string `json:"tenantFrom,omitempty"`
}

// Route maps a path prefix to an upstream with its own policy.
type Route struct {
	Name string `json:"name"`
	// PathPrefix selects requests; the longest matching prefix wins.
	PathPrefix string `json:"pathPrefix"`
	// Upstream names an entry of upstreams.
	Upstream string `json:"upstream"`
	// MaxRequestBytes caps the request body (413 above it). Default 1 MiB.
	MaxRequestBytes int64 `json:"maxRequestBytes,omitempty"`
	// Timeout bounds the whole exchange, streaming included (504 if no
	// response header arrived in time). Default 10m.
	Timeout Duration `json:"timeout,omitempty"`
	// Passthrough forwards paths Bulwark does not understand as raw
	// requests (identity, access and limits still apply; prompt guards
	// cannot). Off by default: unknown paths get 404.
	Passthrough bool `json:"passthrough,omitempty"`
	// Anonymous lets requests without credentials through as identity
	// "anonymous". Off by default.
	Anonymous bool `json:"anonymous,omitempty"`
	// Access lists who may use which models. Empty means any authenticated
	// identity may use any model. When set, the first matching rule
	// decides and no match is a deny (403).
	Access []AccessRule `json:"access,omitempty"`
	// StreamUsage asks streaming upstreams for a final usage chunk
	// (stream_options.include_usage) so streamed tokens are counted; the
	// chunk is removed again if the client did not ask for it. Default
	// true; set false for upstreams that reject stream_options.
	StreamUsage *bool `json:"streamUsage,omitempty"`
	// MaxOutputTokens caps max_tokens (and sets it when the client did not),
	// rewriting the request so the upstream enforces it. 0 = no cap.
	MaxOutputTokens int `json:"maxOutputTokens,omitempty"`
	// WAF configures OWASP CRS inspection for this route.
	WAF *WAF `json:"waf,omitempty"`
	// Limits are request, token, concurrency and budget limits.
	Limits []Limit `json:"limits,omitempty"`
	// Guards are input and output guardrails.
	Guards *Guards `json:"guards,omitempty"`
}

// AccessRule grants (or, with deny, refuses) access. Empty lists match
// anything; "*" globs are allowed in models.
type AccessRule struct {
	Identities []string `json:"identities,omitempty"`
	Tenants    []string `json:"tenants,omitempty"`
	Models     []string `json:"models,omitempty"`
	// Deny turns the rule into a deny rule.
	Deny bool `json:"deny,omitempty"`
}

// Audit configures the audit log.
type Audit struct {
	// Path is a file (appended, created 0600) or "-" for stdout. Empty
	// disables the audit log.
	Path string `json:"path,omitempty"`
	// Prompts controls prompt logging: "none" (default), "hash"
	// (SHA-256 of the prompt text, to correlate without storing) or
	// "redacted" (text with PII and secrets replaced by placeholders).
	Prompts string `json:"prompts,omitempty"`
	// MaxPromptBytes truncates logged prompts. Default 4096.
	MaxPromptBytes int `json:"maxPromptBytes,omitempty"`
}

// Telemetry configures logging and tracing.
type Telemetry struct {
	// LogLevel is debug, info (default), warn or error.
	LogLevel string `json:"logLevel,omitempty"`
	// LogFormat is "json" (default) or "text".
	LogFormat string `json:"logFormat,omitempty"`
	// Tracing exports OpenTelemetry traces over OTLP/HTTP. Off by default.
	Tracing *Tracing `json:"tracing,omitempty"`
}

// Tracing configures the OTLP exporter.
type Tracing struct {
	// Endpoint is the OTLP/HTTP collector, e.g. "http://otel:4318".
	Endpoint string `json:"endpoint"`
	// SampleRatio of requests traced. Default 1.0.
	SampleRatio *float64 `json:"sampleRatio,omitempty"`
	// ServiceName. Default "bulwark".
	ServiceName string `json:"serviceName,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\" or \"5m\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. \"30s\", \"5m\", \"1h\")", s)
	}
	*d = Duration(v)
	return nil
}

// ErrInvalid marks a config that parsed but failed validation.
var ErrInvalid = errors.New("invalid config")

// Load reads, strictly decodes, defaults and validates a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data)
}

// Parse strictly decodes, defaults and validates a config document.
func Parse(data []byte) (*Config, error) {
	var c Config
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: config is empty", ErrInvalid)
	}
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, cleanYAMLError(err))
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}
