// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/bulwarkai/bulwark/internal/config"
)

// Reasons a media URL is refused; they become the SSRF check's audit and
// metric labels, so the set is closed.
const (
	ssrfMalformed   = "malformed_url"
	ssrfScheme      = "scheme_not_allowed"
	ssrfUserinfo    = "userinfo_in_url"
	ssrfPrivateIP   = "private_address"
	ssrfInternal    = "internal_hostname"
	ssrfResolved    = "resolves_to_private_address"
	ssrfUnresolved  = "unresolvable_hostname"
	ssrfTooManyURLs = "too_many_media_urls"
)

// maxMediaURLs bounds how many URLs one request may make the upstream
// fetch (and, with resolveHostnames, how many lookups it can cause).
const maxMediaURLs = 64

// deniedPrefixes are the destinations an upstream must never be made to
// fetch: this host, private networks, link-local (cloud metadata at
// 169.254.169.254 and fd00:ec2::254), shared and reserved space.
var deniedPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"; 0.0.0.0 reaches localhost on Linux
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // shared address space (CGNAT; Alibaba metadata 100.100.100.200)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local (AWS, GCP, Azure, OCI metadata)
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments (Oracle metadata 192.0.0.192)
		"192.0.2.0/24",    // documentation
		"192.88.99.0/24",  // 6to4 relay anycast
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"100::/64",        // discard
		"2001:db8::/32",   // documentation
		"fc00::/7",        // unique local (AWS IMDS fd00:ec2::254)
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated, still routed by some stacks)
		"ff00::/8",        // multicast
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// internalNames are hostnames that only ever resolve inside a network:
// cloud metadata services and Kubernetes' API server.
var internalNames = map[string]bool{
	"localhost":                  true,
	"metadata":                   true,
	"metadata.google.internal":   true,
	"metadata.goog":              true,
	"instance-data":              true,
	"instance-data.ec2.internal": true,
	"kubernetes":                 true,
	"kubernetes.default":         true,
	"kubernetes.default.svc":     true,
}

// internalSuffixes are reserved or conventionally private domains.
var internalSuffixes = []string{
	".localhost", ".local", ".internal", ".home.arpa", ".svc",
	".localdomain", ".lan", ".home", ".corp", ".intranet",
}

// resolver is the part of *net.Resolver the check uses.
type resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ssrfChecker decides whether the upstream may fetch a media URL.
type ssrfChecker struct {
	resolve    bool
	timeout    time.Duration
	resolver   resolver
	allowHosts map[string]bool
	allowNets  []netip.Prefix
}

func newSSRFChecker(c config.WAFSSRF) *ssrfChecker {
	s := &ssrfChecker{
		resolve:    c.ResolveHostnames,
		timeout:    c.ResolveTimeout.D(),
		resolver:   net.DefaultResolver,
		allowHosts: map[string]bool{},
	}
	for _, h := range c.UnsafeAllowHosts {
		if p, err := netip.ParsePrefix(h); err == nil {
			s.allowNets = append(s.allowNets, p.Masked())
			continue
		}
		s.allowHosts[strings.TrimRight(strings.ToLower(h), ".")] = true
	}
	return s
}

// check returns "" when the upstream may fetch raw, else a reason.
// Hostnames are resolved only when configured, with ctx bounding the
// lookup: the check must not outlive the request.
func (s *ssrfChecker) check(ctx context.Context, raw string) string {
	if len(raw) >= 5 && strings.EqualFold(raw[:5], "data:") {
		return "" // inline payload: nothing is fetched
	}
	for i := 0; i < len(raw); i++ {
		// Whitespace, controls and backslashes are where URL parsers
		// disagree; an honest media URL has none of them.
		if c := raw[i]; c <= ' ' || c == '\\' || c == 0x7f {
			return ssrfMalformed
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return ssrfMalformed
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return ssrfScheme
	}
	if u.User != nil {
		return ssrfUserinfo
	}
	host := u.Hostname()
	if host == "" {
		return ssrfMalformed
	}
	if strings.ContainsRune(u.Host, '[') {
		// A bracketed IPv6 literal, possibly with a zone.
		a, err := netip.ParseAddr(host)
		if err != nil {
			return ssrfMalformed
		}
		return s.classify(a)
	}
	if !isASCII(host) {
		// Fetchers map Unicode hostnames (full-width digits and dots
		// included) to ASCII before resolving; so does the check.
		ascii, err := idna.Lookup.ToASCII(host)
		if err != nil {
			return ssrfMalformed
		}
		host = ascii
	}
	host = strings.TrimRight(strings.ToLower(host), ".")
	if host == "" {
		return ssrfMalformed
	}
	if a, ok, bad := parseIPv4Loose(host); bad {
		return ssrfMalformed
	} else if ok {
		return s.classify(a)
	}
	if s.allowHosts[host] {
		return ""
	}
	if !strings.Contains(host, ".") || internalNames[host] {
		return ssrfInternal
	}
	for _, suf := range internalSuffixes {
		if strings.HasSuffix(host, suf) {
			return ssrfInternal
		}
	}
	if !s.resolve {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	addrs, err := s.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return ssrfUnresolved
	}
	for _, a := range addrs {
		if s.classify(a) != "" {
			return ssrfResolved
		}
	}
	return ""
}

// classify returns ssrfPrivateIP when a is a denied destination, looking
// through the IPv6 forms that carry an IPv4 address.
func (s *ssrfChecker) classify(a netip.Addr) string {
	a = a.WithZone("")
	for _, p := range s.allowNets {
		if p.Contains(a) {
			return ""
		}
	}
	if denied(a) {
		return ssrfPrivateIP
	}
	if v4, ok := embeddedIPv4(a); ok && denied(v4) {
		return ssrfPrivateIP
	}
	return ""
}

func denied(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range deniedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64Loc  = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour = netip.MustParsePrefix("2002::/16")
	v4compat  = netip.MustParsePrefix("::/96")
)

// embeddedIPv4 extracts the IPv4 address inside IPv4-compatible, NAT64
// and 6to4 IPv6 addresses (IPv4-mapped ones are unmapped by denied).
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() || a.Is4In6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case v4compat.Contains(a), nat64.Contains(a), nat64Loc.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// parseIPv4Loose parses host the way the WHATWG URL standard (and
// inet_aton) does: one to four dot-separated parts, each decimal, octal
// (leading 0) or hex (0x), the last part filling the remaining bytes, so
// that 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 are all 127.0.0.1.
// bad is true when the host ends in a numeric label but is no valid IPv4
// address: browsers refuse such hosts, and so does the check.
func parseIPv4Loose(host string) (a netip.Addr, ok, bad bool) {
	parts := strings.Split(host, ".")
	last := parts[len(parts)-1]
	if !numericLabel(last) {
		return netip.Addr{}, false, false
	}
	if len(parts) > 4 {
		return netip.Addr{}, false, true
	}
	var nums [4]uint64
	for i, p := range parts {
		n, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false, true
		}
		nums[i] = n
	}
	n := len(parts)
	for i := 0; i < n-1; i++ {
		if nums[i] > 255 {
			return netip.Addr{}, false, true
		}
	}
	if nums[n-1] >= 1<<(8*(5-n)) {
		return netip.Addr{}, false, true
	}
	v := nums[n-1]
	for i := 0; i < n-1; i++ {
		v |= nums[i] << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true, false
}

// numericLabel reports whether a label is a number in WHATWG's sense
// (decimal digits, or 0x followed by hex digits).
func numericLabel(s string) bool {
	if s == "" {
		return false
	}
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		for i := 2; i < len(s); i++ {
			if !isHex(s[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func parseIPv4Part(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	n, err := strconv.ParseUint(p, base, 32)
	if err != nil {
		return 0, false
	}
	return n, true
}
