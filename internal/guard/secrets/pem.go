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
	// The END line must come before any other BEGIN line; searching only
	// up to the next BEGIN also keeps a run of BEGIN lines linear.
	if nb := strings.Index(window, begin); nb >= 0 {
		window = window[:nb]
	}
	if k, n := findEnd(window, label); k >= 0 {
		return bodyStart + k + n, true
	}
	// Truncated: take the body lines that follow, base64 lines and the
	// "Proc-Type:"/"DEK-Info:" headers of legacy encrypted keys, up to the
	// first line that is neither.
	e, n := pemBodyLines(text, bodyStart, min(len(text), bodyStart+maxPEM))
	if n < 32 {
		return 0, false
	}
	return e, true
}

// pemBodyLines walks PEM body lines from p (just after the BEGIN line)
// until limit. Lines end in a newline or a JSON "\n" escape. It returns
// the end of the last body line and the number of base64 bytes seen.
func pemBodyLines(text string, p, limit int) (end, n int) {
	end = p
	headers := false
	for p < limit {
		// Line separator: a newline, CRLF, a JSON "\n" escape, or a space
		// (pastes and env vars often flatten newlines). After a space only
		// a long base64 run counts, so trailing prose is not swallowed.
		minRun := 1
		switch {
		case text[p] == '\n':
			p++
		case text[p] == '\r' && p+1 < limit && text[p+1] == '\n':
			p += 2
		case text[p] == '\\' && p+1 < limit && text[p+1] == 'n':
			p += 2
		case text[p] == ' ':
			p++
			minRun = 20
		case p == end && n == 0:
			// The body may follow the BEGIN line directly.
		default:
			return end, n
		}
		switch {
		case strings.HasPrefix(text[p:], "Proc-Type:") || strings.HasPrefix(text[p:], "DEK-Info:"):
			q := p
			for q < limit && text[q] != '\n' && text[q] != '\\' {
				q++
			}
			p, end = q, q
			headers = true
		default:
			q := span(text, p, base64Pad, limit-p)
			if q == p && headers {
				headers = false // the blank line after the headers
				continue
			}
			if q-p < minRun || q < len(text) && isWord(text[q]) {
				return end, n // a blank line or prose: the body is over
			}
			n += q - p
			p, end = q, q
		}
	}
	return end, n
}

// findEnd finds "-----END <label>-----" in w without building the string,
// returning its offset and length, or -1.
func findEnd(w, label string) (at, n int) {
	const end = "-----END "
	for off := 0; ; {
		k := strings.Index(w[off:], end)
		if k < 0 {
			return -1, 0
		}
		k += off
		rest := w[k+len(end):]
		if strings.HasPrefix(rest, label) && strings.HasPrefix(rest[len(label):], "-----") {
			return k, len(end) + len(label) + len("-----")
		}
		off = k + len(end)
	}
}
