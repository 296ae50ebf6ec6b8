// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/bulwarkai/bulwark/internal/testutil"
)

func TestMTLS(t *testing.T) {
	_, up := startDemoUpstream(t)
	dir := t.TempDir()
	serverCA := testutil.NewCA(t, "server-ca")
	clientCA := testutil.NewCA(t, "client-ca")
	otherCA := testutil.NewCA(t, "rogue-ca")
	_, srvCert, srvKey := serverCA.Issue(t, dir, "server", testutil.Leaf{CommonName: "gw", IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	clientCAPath := clientCA.WriteCA(t, dir, "client-ca")
	good, _, _ := clientCA.Issue(t, dir, "svc", testutil.Leaf{CommonName: "svc", Organization: "acme", URIs: []string{"spiffe://cluster.local/ns/apps/sa/chatbot"}, Client: true})
	rogue, _, _ := otherCA.Issue(t, dir, "rogue", testutil.Leaf{CommonName: "rogue", Organization: "acme", Client: true})

	cfg := baseConfig(up.URL, fmt.Sprintf(`tls:
  certFile: %s
  keyFile: %s
  clientCAFile: %s
  clientAuth: optional
`, srvCert, srvKey, clientCAPath))
	cfg = strings.Replace(cfg, "identity:\n", "identity:\n  mtls:\n    identityFrom: uriSAN\n    tenantFrom: organization\n", 1)
	g := startGateway(t, cfg)
	audit := filepath.Join(filepath.Dir(g.ConfigPath), "audit.jsonl")

	client := func(cert *tls.Certificate) *http.Client {
		tc := &tls.Config{RootCAs: serverCA.Pool(), MinVersion: tls.VersionTLS12}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	post := func(c *http.Client, key string) (int, error) {
		req, _ := http.NewRequest("POST", g.URL+"/v1/chat/completions", strings.NewReader(chatBody))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}

	t.Run("client certificate is the identity", func(t *testing.T) {
		status, err := post(client(&good), "")
		if err != nil || status != 200 {
			t.Fatalf("status %d, err %v; want 200", status, err)
		}
		testutil.WaitFor(t, 5*time.Second, "mtls audit line", func() bool {
			for _, l := range auditLines(t, audit) {
				if l["identity"] == "spiffe://cluster.local/ns/apps/sa/chatbot" && l["tenant"] == "acme" && l["auth_method"] == "mtls" {
					return true
				}
			}
			return false
		})
	})
	t.Run("no certificate falls back to api key", func(t *testing.T) {
		if status, err := post(client(nil), aliceKey); err != nil || status != 200 {
			t.Fatalf("status %d, err %v; want 200", status, err)
		}
		if status, err := post(client(nil), ""); err != nil || status != 401 {
			t.Fatalf("status %d, err %v; want 401", status, err)
		}
	})
	t.Run("certificate from another CA is refused in the handshake", func(t *testing.T) {
		// Force the rogue certificate out even though the server's
		// CertificateRequest names other CAs.
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: serverCA.Pool(), MinVersion: tls.VersionTLS12,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &rogue, nil },
		}}}
		if _, err := post(c, aliceKey); err == nil {
			t.Fatal("request with an untrusted client certificate succeeded")
		}
	})
	t.Run("clients can speak HTTP/2", func(t *testing.T) {
		c := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true,
			TLSClientConfig: &tls.Config{RootCAs: serverCA.Pool(), MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{good}}}}
		req, _ := http.NewRequest("POST", g.URL+"/v1/chat/completions", strings.NewReader(chatBody))
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.ProtoMajor != 2 {
			t.Errorf("got %d over %s, want 200 over HTTP/2", res.StatusCode, res.Proto)
		}
	})
	t.Run("plain http to the tls port fails", func(t *testing.T) {
		res, err := http.Post("http://"+g.Addr()+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
		if err == nil {
			defer res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("plain http got %d", res.StatusCode)
			}
		}
	})
}

func TestMTLSRequired(t *testing.T) {
	_, up := startDemoUpstream(t)
	dir := t.TempDir()
	ca := testutil.NewCA(t, "ca")
	_, srvCert, srvKey := ca.Issue(t, dir, "server", testutil.Leaf{CommonName: "gw", IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	caPath := ca.WriteCA(t, dir, "ca")
	cfg := baseConfig(up.URL, fmt.Sprintf("tls: {certFile: %s, keyFile: %s, clientCAFile: %s}\n", srvCert, srvKey, caPath))
	g := startGateway(t, cfg)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	req, _ := http.NewRequest("POST", g.URL+"/v1/chat/completions", strings.NewReader(chatBody))
	req.Header.Set("Authorization", "Bearer "+aliceKey)
	if res, err := c.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("clientAuth require: request without certificate got %d, want handshake failure", res.StatusCode)
	}
}

// jwks serves a rotating key set over HTTP.
type jwks struct {
	keys    atomic.Pointer[jose.JSONWebKeySet]
	fetches atomic.Int64
}

func (j *jwks) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	j.fetches.Add(1)
	_ = json.NewEncoder(w).Encode(j.keys.Load())
}

func newRSAKey(t *testing.T, kid string) (jose.SigningKey, jose.JSONWebKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k, KeyID: kid}},
		jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: "RS256", Use: "sig"}
}

func sign(t *testing.T, key jose.SigningKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestJWT(t *testing.T) {
	_, up := startDemoUpstream(t)
	k1, pub1 := newRSAKey(t, "k1")
	k2, pub2 := newRSAKey(t, "k2")
	rogue, _ := newRSAKey(t, "k1")
	set := &jwks{}
	set.keys.Store(&jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub1}})
	idp := httptest.NewServer(set)
	defer idp.Close()

	cfg := baseConfig(up.URL, "")
	cfg = strings.Replace(cfg, "identity:\n", fmt.Sprintf(`identity:
  jwt:
    - name: corp
      issuer: https://idp.example.com
      audiences: [bulwark]
      jwksURL: %s
      jwksMinRefresh: 1s
      identityClaim: email
      tenantClaim: org
`, idp.URL), 1)
	g := startGateway(t, cfg)
	audit := filepath.Join(filepath.Dir(g.ConfigPath), "audit.jsonl")

	now := time.Now()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "https://idp.example.com", "aud": []string{"bulwark"}, "sub": "u-1",
			"email": "carol@acme.example", "org": "acme", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"valid", sign(t, k1, claims(nil)), 200},
		{"expired", sign(t, k1, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), 401},
		{"no exp", sign(t, k1, claims(func(c map[string]any) { delete(c, "exp") })), 401},
		{"wrong audience", sign(t, k1, claims(func(c map[string]any) { c["aud"] = "other" })), 401},
		{"wrong issuer", sign(t, k1, claims(func(c map[string]any) { c["iss"] = "https://evil.example.com" })), 401},
		{"signed by another key with the same kid", sign(t, rogue, claims(nil)), 401},
		{"tampered", tamper(sign(t, k1, claims(nil))), 401},
		{"missing identity claim", sign(t, k1, claims(func(c map[string]any) { delete(c, "email") })), 401},
		{"tenant not allowed", sign(t, k1, claims(func(c map[string]any) { c["org"] = "initech" })), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, "POST", g.URL+"/v1/chat/completions", tt.token, chatBody)
			if res.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d: %s", res.StatusCode, tt.want, body)
			}
		})
	}
	t.Run("identity and tenant come from the configured claims", func(t *testing.T) {
		testutil.WaitFor(t, 5*time.Second, "jwt audit line", func() bool {
			for _, l := range auditLines(t, audit) {
				if l["identity"] == "carol@acme.example" && l["tenant"] == "acme" && l["auth_method"] == "jwt" {
					return true
				}
			}
			return false
		})
	})
	t.Run("key rotation: a new kid triggers a JWKS refetch", func(t *testing.T) {
		set.keys.Store(&jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub2}})
		tok := sign(t, k2, claims(nil))
		testutil.WaitFor(t, 5*time.Second, "token signed with rotated key accepted", func() bool {
			res, _ := do(t, "POST", g.URL+"/v1/chat/completions", tok, chatBody)
			return res.StatusCode == 200
		})
		// The retired key no longer verifies once the set has rotated.
		res, _ := do(t, "POST", g.URL+"/v1/chat/completions", sign(t, k1, claims(nil)), chatBody)
		if res.StatusCode != 401 {
			t.Errorf("token signed with the removed key: status %d, want 401", res.StatusCode)
		}
	})
	t.Run("unknown kids do not hammer the IdP", func(t *testing.T) {
		bogus, _ := newRSAKey(t, "")
		var toks []string
		for i := range 20 {
			k := bogus
			k.Key = jose.JSONWebKey{Key: bogus.Key.(jose.JSONWebKey).Key, KeyID: fmt.Sprintf("nope-%d", i)}
			toks = append(toks, sign(t, k, claims(nil)))
		}
		before, start := set.fetches.Load(), time.Now()
		for _, tok := range toks {
			if res, _ := do(t, "POST", g.URL+"/v1/chat/completions", tok, chatBody); res.StatusCode != 401 {
				t.Fatalf("unknown kid: status %d, want 401", res.StatusCode)
			}
		}
		// jwksMinRefresh is 1s: at most one refetch per started second.
		allowed := int64(time.Since(start)/time.Second) + 1
		if got := set.fetches.Load() - before; got > allowed {
			t.Errorf("JWKS fetched %d times for 20 unknown kids in %s, want at most %d (rate-limited)", got, time.Since(start), allowed)
		}
	})
}

func TestJWTFromFile(t *testing.T) {
	_, up := startDemoUpstream(t)
	k, pub := newRSAKey(t, "file-key")
	dir := t.TempDir()
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	path := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(baseConfig(up.URL, ""), "identity:\n", fmt.Sprintf(`identity:
  jwt:
    - {name: file, issuer: iss, audiences: [bulwark], jwksFile: %s, tenantClaim: org}
`, path), 1)
	g := startGateway(t, cfg)
	tok := sign(t, k, map[string]any{"iss": "iss", "aud": "bulwark", "sub": "svc", "org": "acme", "exp": time.Now().Add(time.Minute).Unix()})
	if res, body := do(t, "POST", g.URL+"/v1/chat/completions", tok, chatBody); res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	// HS256 with the public key as secret (algorithm confusion) is refused.
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("secret")}, nil)
	bad, _ := jwt.Signed(hs).Claims(map[string]any{"iss": "iss", "aud": "bulwark", "sub": "x", "org": "acme", "exp": time.Now().Add(time.Minute).Unix()}).Serialize()
	if res, _ := do(t, "POST", g.URL+"/v1/chat/completions", bad, chatBody); res.StatusCode != 401 {
		t.Errorf("HS256 token: status %d, want 401", res.StatusCode)
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	var c map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(b, &c)
	c["org"] = "acme-admin"
	nb, _ := json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(nb)
	return strings.Join(parts, ".")
}
