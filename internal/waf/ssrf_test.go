// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/bulwarkai/bulwark/internal/config"
)

type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(ctx context.Context, _, host string) ([]netip.Addr, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ips, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, ip := range ips {
		out = append(out, netip.MustParseAddr(ip))
	}
	return out, nil
}

var ssrfCases = []struct {
	name, url, want string
}{
	{"public https", "https://upload.wikimedia.org/a.png", ""},
	{"public ip", "http://93.184.216.34/a.png", ""},
	{"data url", "data:image/png;base64,iVBORw0KGgo=", ""},
	{"public ipv6", "http://[2606:4700::1111]/a.png", ""},
	{"uppercase scheme", "HTTPS://example.com/a.png", ""},

	{"loopback", "http://127.0.0.1/", ssrfPrivateIP},
	{"loopback other", "http://127.8.9.10:8080/x", ssrfPrivateIP},
	{"aws metadata", "http://169.254.169.254/latest/meta-data/", ssrfPrivateIP},
	{"private 10", "http://10.1.2.3/", ssrfPrivateIP},
	{"private 172", "http://172.31.255.1/", ssrfPrivateIP},
	{"private 192", "http://192.168.0.1/", ssrfPrivateIP},
	{"cgnat alibaba metadata", "http://100.100.100.200/latest/meta-data", ssrfPrivateIP},
	{"oracle metadata", "http://192.0.0.192/", ssrfPrivateIP},
	{"zero", "http://0/", ssrfPrivateIP},
	{"zero dotted", "http://0.0.0.0:6379/", ssrfPrivateIP},
	{"decimal", "http://2130706433/", ssrfPrivateIP},
	{"decimal metadata", "http://2852039166/", ssrfPrivateIP},
	{"hex", "http://0x7f000001/", ssrfPrivateIP},
	{"hex dotted", "http://0x7f.0x0.0x0.0x1/", ssrfPrivateIP},
	{"octal", "http://0177.0.0.1/", ssrfPrivateIP},
	{"short form", "http://127.1/", ssrfPrivateIP},
	{"short form three", "http://10.0.1/", ssrfPrivateIP},
	{"trailing dot", "http://127.0.0.1./", ssrfPrivateIP},
	{"ipv6 loopback", "http://[::1]/", ssrfPrivateIP},
	{"ipv6 mapped", "http://[::ffff:127.0.0.1]/", ssrfPrivateIP},
	{"ipv6 mapped hex", "http://[::ffff:a9fe:a9fe]/", ssrfPrivateIP},
	{"ipv6 compat", "http://[::169.254.169.254]/", ssrfPrivateIP},
	{"nat64", "http://[64:ff9b::a9fe:a9fe]/", ssrfPrivateIP},
	{"6to4", "http://[2002:7f00:1::]/", ssrfPrivateIP},
	{"ipv6 link local zone", "http://[fe80::1%25eth0]/", ssrfPrivateIP},
	{"aws ipv6 metadata", "http://[fd00:ec2::254]/latest/meta-data/", ssrfPrivateIP},
	{"percent encoded host", "http://%31%32%37.0.0.1/", ssrfMalformed}, // net/url refuses it: refused either way
	{"fullwidth digits", "http://１２７.０.０.１/", ssrfPrivateIP},
	{"ideographic dots", "http://127。0。0。1/", ssrfPrivateIP},

	{"localhost", "http://localhost:8000/", ssrfInternal},
	{"localhost trailing dots", "http://localhost../", ssrfInternal},
	{"sub localhost", "http://api.localhost/", ssrfInternal},
	{"gcp metadata", "http://metadata.google.internal/computeMetadata/v1/", ssrfInternal},
	{"gcp metadata upper", "http://METADATA.GOOGLE.INTERNAL./", ssrfInternal},
	{"metadata single label", "http://metadata/", ssrfInternal},
	{"kubernetes", "https://kubernetes.default.svc/api", ssrfInternal},
	{"cluster local", "http://redis.default.svc.cluster.local:6379/", ssrfInternal},
	{"single label", "http://intranet/", ssrfInternal},
	{"home arpa", "http://nas.home.arpa/", ssrfInternal},

	{"file scheme", "file:///etc/passwd", ssrfScheme},
	{"gopher", "gopher://127.0.0.1:6379/_INFO", ssrfScheme},
	{"ftp", "ftp://example.com/a.png", ssrfScheme},
	{"no scheme", "//example.com/a.png", ssrfScheme},
	{"userinfo", "http://example.com@127.0.0.1/", ssrfUserinfo},
	{"userinfo confusion", "http://127.0.0.1:80@example.com/", ssrfUserinfo},
	{"backslash", `http://example.com\@127.0.0.1/`, ssrfMalformed},
	{"space", "http://example.com /a", ssrfMalformed},
	{"newline", "http://example.com/\n", ssrfMalformed},
	{"empty host", "http:///a", ssrfMalformed},
	{"bad ipv4 numeric", "http://1.2.3.4.5/", ssrfMalformed},
	{"bad octet", "http://256.1.1.1/", ssrfMalformed},
	{"bad bracket", "http://[not-an-ip]/", ssrfMalformed},
}

func TestSSRFCheck(t *testing.T) {
	c := newSSRFChecker(config.WAFSSRF{ResolveTimeout: config.Duration(time.Second)})
	for _, tc := range ssrfCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.check(t.Context(), tc.url); got != tc.want {
				t.Errorf("check(%q) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
}

func TestSSRFResolve(t *testing.T) {
	c := newSSRFChecker(config.WAFSSRF{
		ResolveHostnames: true, ResolveTimeout: config.Duration(time.Second),
		UnsafeAllowHosts: []string{"images.corp.example", "10.20.0.0/16"},
	})
	c.resolver = fakeResolver{
		"cdn.example.com":      {"93.184.216.34", "2606:2800:220:1::1"},
		"rebind.example.com":   {"93.184.216.34", "127.0.0.1"},
		"nip.example.com":      {"169.254.169.254"},
		"images.corp.example":  {"10.9.9.9"},
		"store.example.com":    {"10.20.1.1"},
		"elsewhere.example.io": {"10.21.1.1"},
	}
	for _, tc := range []struct{ name, url, want string }{
		{"public", "https://cdn.example.com/a.png", ""},
		{"one private answer", "https://rebind.example.com/a.png", ssrfResolved},
		{"metadata answer", "http://nip.example.com/", ssrfResolved},
		{"unresolvable", "http://nxdomain.example.com/", ssrfUnresolved},
		{"allowed host", "http://images.corp.example/a.png", ""},
		{"allowed cidr", "http://store.example.com/a.png", ""},
		{"allowed cidr literal", "http://10.20.3.4/a.png", ""},
		{"outside allowed cidr", "http://elsewhere.example.io/a.png", ssrfResolved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.check(t.Context(), tc.url); got != tc.want {
				t.Errorf("check(%q) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
	t.Run("cancelled request context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if got := c.check(ctx, "https://cdn.example.com/a.png"); got != ssrfUnresolved {
			t.Errorf("check with a cancelled context = %q, want %q", got, ssrfUnresolved)
		}
	})
}

func FuzzSSRFCheck(f *testing.F) {
	for _, tc := range ssrfCases {
		f.Add(tc.url)
	}
	c := newSSRFChecker(config.WAFSSRF{})
	f.Fuzz(func(t *testing.T, u string) {
		_ = c.check(t.Context(), u)
	})
}
