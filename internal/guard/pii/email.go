// SPDX-License-Identifier: Apache-2.0

package pii

import (
	"strings"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

// isLocalChar reports whether c may appear in the local part of an address.
// It is the common dot-atom subset: slash, equals sign, apostrophe and
// friends are legal in RFC 5322 but show up in real prompts mostly as code
// ("key=user@host"), so leaving them out keeps the match tight.
func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// isDomainChar accepts bytes of UTF-8 sequences too, for internationalised
// domain labels; the TLD must still be ASCII, so a match never ends inside
// a multi-byte rune.
func isDomainChar(c byte) bool { return isAlnum(c) || c == '-' || c >= 0x80 }

// notMailTLDs are "TLDs" that are really file extensions: icon@2x.png is a
// retina asset name, not an address.
var notMailTLDs = []string{"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff"}

func findEmails(text string, dst []entity.Finding) []entity.Finding {
	next := 0
	for {
		j := strings.IndexByte(text[next:], '@')
		if j < 0 {
			return dst
		}
		at := next + j
		next = at + 1
		s, e, ok := matchEmail(text, at)
		if ok {
			dst = append(dst, entity.Finding{Start: s, End: e, Type: Email})
			next = e
		}
	}
}

func matchEmail(text string, at int) (start, end int, ok bool) {
	// Local part, scanning backwards.
	s := at
	for s > 0 && at-s < 64 && isLocalChar(text[s-1]) {
		s--
	}
	if s > 0 && isLocalChar(text[s-1]) {
		return 0, 0, false // longer than 64 bytes: not an address
	}
	for s < at && text[s] == '.' { // "...john@x.io" starts at john
		s++
	}
	if s == at || text[at-1] == '.' || strings.Contains(text[s:at], "..") {
		return 0, 0, false
	}
	if s > 0 && text[s-1] == ':' && urlUserinfo(text, s-1) {
		return 0, 0, false // scheme://user:pass@host is a credential, not a mailbox
	}
	if s > 0 && (text[s-1] == '/' || text[s-1] == '@') {
		return 0, 0, false
	}
	if at-s == 3 && hasPrefixFold(text[s:], "git") {
		return 0, 0, false // git@host:org/repo is an SSH remote
	}

	// Domain: labels separated by single dots.
	e := at + 1
	labels, lastLabel := 0, e
	for {
		ls := e
		for e < len(text) && isDomainChar(text[e]) && e-ls < 63 {
			e++
		}
		if e == ls || text[ls] == '-' || text[e-1] == '-' {
			// Empty or badly hyphenated label: stop before it.
			e = ls
			if labels > 0 {
				e-- // drop the dot we consumed
			}
			break
		}
		labels++
		lastLabel = ls
		if e-at > 254 {
			return 0, 0, false // longer than any domain
		}
		if e+1 < len(text) && text[e] == '.' && isDomainChar(text[e+1]) {
			e++
			continue
		}
		break
	}
	if labels < 2 || e-at-1 > 253 {
		return 0, 0, false
	}
	// If a label ran to the 63-byte cap it continues; reject.
	if e < len(text) && isDomainChar(text[e]) {
		return 0, 0, false
	}
	tld := text[lastLabel:e]
	if !validTLD(tld) {
		return 0, 0, false
	}
	for _, x := range notMailTLDs {
		if len(tld) == len(x) && hasPrefixFold(tld, x) {
			return 0, 0, false
		}
	}
	return s, e, true
}

// validTLD accepts 2-24 ASCII letters or a punycode label.
func validTLD(tld string) bool {
	if hasPrefixFold(tld, "xn--") && len(tld) > 4 {
		for i := 4; i < len(tld); i++ {
			if !isAlnum(tld[i]) && tld[i] != '-' {
				return false
			}
		}
		return true
	}
	if len(tld) < 2 || len(tld) > 24 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if !isAlpha(tld[i]) {
			return false
		}
	}
	return true
}

// urlUserinfo reports whether the ':' at colon sits inside the user-info
// of a URL, i.e. a "://" starts the same whitespace-free token at most 128
// bytes before it.
func urlUserinfo(text string, colon int) bool {
	lo := max(0, colon-128)
	for k := colon - 1; k >= lo+2; k-- {
		c := text[k]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '<' {
			return false
		}
		if c == '/' && text[k-1] == '/' && text[k-2] == ':' {
			return true
		}
	}
	return false
}
