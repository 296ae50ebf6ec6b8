// SPDX-License-Identifier: Apache-2.0

package pii

import (
	"net/netip"
	"strings"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

// versionContext are words after which a dotted quad is a version,
// section or object identifier rather than an address: "version 1.2.3.4",
// "build 10.0.19041.1", "section 2.3.1.4". "v1.2.3.4" needs no keyword: a
// number glued to a letter never starts a match.
var versionContext = []keyword{
	{"version", true}, {"ver", false}, {"release", false}, {"rel", false}, {"build", false},
	{"firmware", false}, {"fw", false}, {"patch", false}, {"revision", false}, {"rev", false},
	{"section", false}, {"sec", false}, {"chapter", false}, {"clause", false}, {"figure", false},
	{"fig", false}, {"table", false}, {"step", false}, {"oid", false}, {"edition", false},
}

// matchIPv4 parses a dotted-quad IPv4 address at i. Octets are 0-255
// without leading zeros (so "01.02.03.04" and zero-padded dates or
// versions are out). A quad that is part of a longer dotted run, follows a
// version keyword, or is not an address of any host (0.0.0.0/8, loopback,
// 255.x netmasks and broadcast) is not reported.
func matchIPv4(text string, i int) (end int, ok bool) {
	if !numberStartOK(text, i) {
		return 0, false
	}
	var oct [4]int
	p := i
	for k := range 4 {
		if k > 0 {
			if p+1 >= len(text) || text[p] != '.' || !isDigit(text[p+1]) {
				return 0, false
			}
			p++
		}
		q, v := p, 0
		for q < len(text) && isDigit(text[q]) && q-p < 4 {
			v = v*10 + int(text[q]-'0')
			q++
		}
		n := q - p
		if n == 0 || n > 3 || v > 255 || n > 1 && text[p] == '0' {
			return 0, false
		}
		oct[k] = v
		p = q
	}
	if !numberEndOK(text, p) {
		return 0, false
	}
	if oct[0] == 0 || oct[0] == 127 || oct[0] == 255 {
		return 0, false
	}
	if precededBy(text, i, versionContext) {
		return 0, false
	}
	return p, true
}

// precededBy reports whether the word just before i (skipping up to a few
// spaces, ':', '=' or '#') is one of kws.
func precededBy(text string, i int, kws []keyword) bool {
	j := i
	for j > 0 && i-j < 4 && strings.IndexByte(" \t:=#", text[j-1]) >= 0 {
		j--
	}
	ws := j
	for ws > 0 && j-ws < 16 && isAlpha(text[ws-1]) {
		ws--
	}
	if ws == j {
		return false
	}
	word := text[ws:j]
	for _, kw := range kws {
		if len(word) == len(kw.word) && hasPrefixFold(word, kw.word) ||
			kw.stem && hasPrefixFold(word, kw.word) {
			return true
		}
	}
	return false
}

func isHexDigit(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func isV6Char(c byte) bool { return isHexDigit(c) || c == ':' || c == '.' }

// findIPv6 anchors on ':' and validates candidates with netip. A cheap
// shape test runs first (at least two colons and either "::" or seven
// colons, at least one decimal digit) so that times ("12:20:39"), MAC
// addresses and C++/Rust paths ("std::vec") never reach the parser.
func findIPv6(text string, dst []entity.Finding) []entity.Finding {
	next := 0
	for {
		j := strings.IndexByte(text[next:], ':')
		if j < 0 {
			return dst
		}
		c := next + j
		s, e := c, c
		for s > 0 && isV6Char(text[s-1]) && c-s <= 64 {
			s--
		}
		for e < len(text) && isV6Char(text[e]) && e-s <= 64 {
			e++
		}
		next = max(e, c+1)
		if e-s > 64 {
			// Far longer than an address: hex dumps and the like. Skip the
			// whole run so it is not rescanned from every colon.
			for e < len(text) && isV6Char(text[e]) {
				e++
			}
			next = e
			continue
		}
		if s > 0 && (isWord(text[s-1]) || text[s-1] >= 0x80) {
			continue
		}
		if e < len(text) && (isWord(text[e]) || text[e] >= 0x80) {
			continue
		}
		// Trim sentence punctuation: "at fe80::1." or "fe80::1: ok".
		for e > s && (text[e-1] == '.' || text[e-1] == ':' && (e-2 < s || text[e-2] != ':')) {
			e--
		}
		if s+1 < e && text[s] == ':' && text[s+1] != ':' {
			s++
		}
		if ok := plausibleIPv6(text[s:e]); !ok {
			continue
		}
		a, err := netip.ParseAddr(text[s:e])
		if err != nil || !a.Is6() || a.IsUnspecified() || a.IsLoopback() {
			continue
		}
		dst = append(dst, entity.Finding{Start: s, End: e, Type: IPAddress})
	}
}

func plausibleIPv6(s string) bool {
	if len(s) < 3 || len(s) > 45 {
		return false
	}
	colons, digit := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == ':':
			colons++
		case isDigit(s[i]):
			digit = true
		}
	}
	if colons < 2 || !digit {
		return false
	}
	return colons >= 7 || colons == 6 && strings.IndexByte(s, '.') >= 0 || strings.Contains(s, "::")
}
