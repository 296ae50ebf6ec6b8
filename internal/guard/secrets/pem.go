// SPDX-License-Identifier: Apache-2.0

package secrets

import "strings"

// maxPEM bounds how far past BEGIN the END line is looked for.
const maxPEM = 12 << 10

// matchPEM matches a private key block starting at "-----BEGIN " at i:
// any label ending in PRIVATE KEY (RSA, EC, DSA, OPENSSH, ENCRYPTED,
// PKCS#8) or PGP PRIVATE KEY BLOCK, through the matching END line. The body
// may be real newlines or JSON "\n" escapes, which is how a GCP
// service-account key file carries it ("private_key": "-----BEGIN...").
//
// If no END line follows within maxPEM bytes (a truncated paste, or a key
// still streaming in), the BEGIN line and the key-body bytes after it are
// reported anyway: half a private key is still a leaked private key.
// Public keys and certificates are not secrets and are not matched.
func matchPEM(text string, i int) (end int, ok bool) {
	const begin = "-----BEGIN "
	ls := i + len(begin)
	le := strings.Index(text[ls:min(len(text), ls+64)], "-----")
	if le < 0 {
		return 0, false
	}
	label := text[ls : ls+le]
	if !strings.HasSuffix(label, "PRIVATE KEY") && label != "PGP PRIVATE KEY BLOCK" {
		return 0, false
	}
	bodyStart := ls + le + len("-----")
	window := text[bodyStart:min(len(text), bodyStart+maxPEM)]
	endLine := "-----END " + label + "-----" // only built for real key headers
	if k := strings.Index(window, endLine); k >= 0 && !strings.Contains(window[:k], "-----BEGIN ") {
		return bodyStart + k + len(endLine), true
	}
	// Truncated: take the body run.
	e := span(text, bodyStart, pemBody, maxPEM)
	for e > bodyStart && (spaceClass.has(text[e-1]) || text[e-1] == '\\' || text[e-1] == '-') {
		e--
	}
	if e-bodyStart < 32 {
		return 0, false
	}
	return e, true
}
