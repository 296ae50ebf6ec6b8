// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

// Bounds on the window of text any one finding depends on, by scanner;
// MaxLen reports the largest among the enabled types. PEM blocks dominate
// (an RSA-8192 or PGP key with subkeys is 6-8 KB, and maxPEM leaves room
// for JSON escaping), then JWTs; everything else is about 1 KB.
const (
	pemWindow    = maxPEM + 128
	jwtWindow    = maxJWT + 64
	awsWindowLen = 2*awsWindow + 64 // key id in the middle, secret either side
	// Assignments: key, quotes, spaces, operator, value, and the byte
	// after it; URL user-info; and the longest token rule (PyPI, 1 KB).
	baseWindow = 1100
)

// Types returns the names New accepts, in preference order.
func Types() []string { return slices.Clone(allTypes) }

// Detector finds secrets. Build one with New; it is immutable and safe for
// concurrent use.
type Detector struct {
	// byFirst holds the enabled token rules by the first byte of their
	// prefix, longest prefix first, so "sk-ant-" is tried before "sk-".
	byFirst [256][]*tokenRule
	// second[c] holds the second prefix bytes of byFirst[c], so most
	// words are rejected with one bit test.
	second [256]charClass
	on     map[string]bool
	// Scanners that are not prefix rules.
	pem, jwt, url, assign, awsSecret, azureClient, telegram bool
	types                                                   []string
	maxLen                                                  int
	// span bounds the trailing token run Pending holds (tokenSpan).
	span int
}

var _ entity.Detector = (*Detector)(nil)

// New returns a Detector for the given types, or for all of them if none
// are given. Names are case-insensitive; an unknown name is an error that
// lists the valid ones.
func New(types ...string) (*Detector, error) {
	if len(types) == 0 {
		types = allTypes
	}
	d := &Detector{on: make(map[string]bool)}
	var unknown []string
	for _, t := range types {
		u := strings.ToUpper(strings.TrimSpace(t))
		if !slices.Contains(allTypes, u) {
			unknown = append(unknown, fmt.Sprintf("%q", t))
			continue
		}
		d.on[u] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown secret type %s (valid: %s)", strings.Join(unknown, ", "), strings.Join(allTypes, ", "))
	}
	for _, t := range allTypes {
		if d.on[t] {
			d.types = append(d.types, t)
		}
	}
	for i := range tokenRules {
		r := &tokenRules[i]
		if d.on[r.typ] {
			d.byFirst[r.prefix[0]] = append(d.byFirst[r.prefix[0]], r)
			d.second[r.prefix[0]][r.prefix[1]>>6] |= 1 << (r.prefix[1] & 63)
		}
	}
	for i := range d.byFirst {
		slices.SortStableFunc(d.byFirst[i], func(a, b *tokenRule) int { return cmp.Compare(len(b.prefix), len(a.prefix)) })
	}
	d.pem = d.on[PrivateKey]
	d.jwt = d.on[JWT]
	d.url = d.on[URLCredentials]
	d.assign = d.on[Password] || d.on[GenericSecret] || d.on[AzureStorageKey] || d.on[AzureSharedKey] || d.on[AWSSecretKey]
	d.awsSecret = d.on[AWSSecretKey]
	d.azureClient = d.on[AzureClientSecret]
	d.telegram = d.on[TelegramBotToken]
	d.maxLen = baseWindow
	if d.awsSecret {
		d.maxLen = max(d.maxLen, awsWindowLen)
	}
	if d.jwt {
		d.maxLen = max(d.maxLen, jwtWindow)
	}
	if d.pem {
		d.maxLen = max(d.maxLen, pemWindow)
	}
	d.span = d.tokenSpan()
	return d, nil
}

// Types returns the configured entity types.
func (d *Detector) Types() []string { return slices.Clone(d.types) }

// MaxLen implements entity.Detector. It depends on the configured types:
// about 1 KB without PRIVATE_KEY and JWT, 8 KB with JWT, 12 KB with
// PRIVATE_KEY.
func (d *Detector) MaxLen() int { return d.maxLen }

// Find implements entity.Detector.
func (d *Detector) Find(text string, dst []entity.Finding) []entity.Finding {
	n0 := len(dst)
	next := 0 // findings already cover text[:next]
	var runs runCache
	awsKeys := false
	add := func(s, e int, typ string) {
		dst = append(dst, entity.Finding{Start: s, End: e, Type: typ})
		next = max(next, e)
	}
	// Context findings (URL passwords, assigned values) do not advance
	// next: the value may itself be a provider token, found when the loop
	// reaches it, and that finding should carry the better name.
	addContext := func(s, e int, typ string) {
		dst = append(dst, entity.Finding{Start: s, End: e, Type: typ})
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if isWord(c) {
			// A word start: try the token rules and JWTs, then skip the
			// rest of the word.
			if i >= next {
				if e, typ, ok := d.matchToken(text, i, &runs); ok {
					add(i, e, typ)
					awsKeys = awsKeys || typ == AWSAccessKey
					i = e - 1
					continue
				}
			}
			for i+1 < len(text) && isWord(text[i+1]) {
				i++
			}
			continue
		}
		switch c {
		case ':':
			if i+2 < len(text) && text[i+1] == '/' && text[i+2] == '/' {
				if d.url {
					if s, e, ok := matchURLCredentials(text, i); ok && s >= next {
						addContext(s, e, URLCredentials)
					}
				}
				continue
			}
			if d.telegram {
				if s, e, ok := matchTelegram(text, i); ok && s >= next {
					add(s, e, TelegramBotToken)
					i = e - 1
					continue
				}
			}
			fallthrough
		case '=':
			if d.assign {
				if s, e, typ, ok := d.matchAssignment(text, i, &runs); ok && s >= next {
					addContext(s, e, typ)
				}
			}
		case '-':
			if d.pem && strings.HasPrefix(text[i:], "-----BEGIN ") {
				if e, ok := matchPEM(text, i); ok {
					add(i, e, PrivateKey)
					i = e - 1
				}
			}
		case '~':
			if d.azureClient && i >= 5 && text[i-1] == 'Q' {
				if s, e, ok := matchAzureClientSecret(text, i-1); ok && s >= next {
					add(s, e, AzureClientSecret)
					i = e - 1
				}
			}
		}
	}
	if awsKeys && d.awsSecret {
		dst = findAWSSecretsNear(text, dst, n0)
	}
	// Merge keeps the first of identical ranges, so move the context
	// types behind the specific ones (stable, in place).
	slices.SortStableFunc(dst[n0:], func(a, b entity.Finding) int {
		return cmp.Compare(contextRank(a.Type), contextRank(b.Type))
	})
	merged := entity.Merge(dst[n0:])
	return dst[:n0+len(merged)]
}

// contextRank orders findings whose type comes from context (the key name
// or URL position) after those whose type comes from the value's own
// format.
func contextRank(typ string) int {
	switch typ {
	case Password, GenericSecret, URLCredentials:
		return 1
	}
	return 0
}

// matchToken tries the prefix rules and the JWT shape at word start w.
func (d *Detector) matchToken(text string, w int, runs *runCache) (end int, typ string, ok bool) {
	rest := text[w:]
	if len(rest) < 2 {
		return 0, "", false
	}
	if !d.second[rest[0]].has(rest[1]) {
		goto jwt
	}
	for _, r := range d.byFirst[rest[0]] {
		// Every prefix has at least two bytes; comparing the second first
		// rejects most words without a call.
		if rest[1] != r.prefix[1] || !strings.HasPrefix(rest, r.prefix) {
			continue
		}
		// The longest matching prefix decides: "sk-ant-..." that fails the
		// Anthropic rule is not retried as an OpenAI key.
		if e, ok := r.match(text, w, runs); ok {
			return e, r.typ, true
		}
		return 0, "", false
	}
jwt:
	if d.jwt && len(rest) > 24 && rest[0] == 'e' && rest[1] == 'y' {
		if e, ok := matchJWT(text, w, runs); ok {
			return e, JWT, true
		}
	}
	return 0, "", false
}
