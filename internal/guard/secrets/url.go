// SPDX-License-Identifier: Apache-2.0

package secrets

import "strings"

// matchURLCredentials finds the password in scheme://user:password@host
// given the ':' of "://" at i. Only the password is reported: the user
// name is usually a role ("postgres", "oauth2") that the model needs to
// understand the URL, and it is the password that grants access. Template
// passwords ("password", "${DB_PASS}", "****") are not reported.
func matchURLCredentials(text string, i int) (start, end int, ok bool) {
	if i == 0 || !letters.has(text[i-1]) {
		return 0, 0, false // needs a scheme
	}
	u := i + 3
	e := u
	at := -1
	for e < len(text) && e-u < 512 {
		c := text[e]
		if c <= ' ' || strings.IndexByte("/?#\"'<>`\\", c) >= 0 {
			break
		}
		if c == '@' {
			at = e // the last '@' before the path ends the user-info
		}
		e++
	}
	if at < 0 || at+1 >= len(text) || !isWord(text[at+1]) && text[at+1] != '[' {
		return 0, 0, false
	}
	colon := strings.IndexByte(text[u:at], ':')
	if colon < 0 {
		return 0, 0, false
	}
	ps := u + colon + 1
	if ps >= at || isPlaceholder(text[ps:at]) {
		return 0, 0, false
	}

	return ps, at, true
}
