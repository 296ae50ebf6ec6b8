// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"bytes"
	"math"
	"strings"
)

// keyChar is what an assignment's key may be made of: identifiers, env
// names, dotted config paths, header names and CLI flags.
var keyChar = newClass("A-Za-z0-9_.-")

// unquotedValue is what an unquoted value may be made of: printable ASCII
// short of whitespace, quotes and the delimiters that end a value in code,
// query strings, shell and config files.
var unquotedValue = func() *charClass {
	c := newClass("!-~")
	for _, b := range []byte("\"'`,;&<>()[]{}\\") {
		c[b>>6] &^= 1 << (b & 63)
	}
	return c
}()

// passwordKeys and secretKeys are suffixes of the normalised key (lower
// case, with '_', '-' and '.' removed): DB_PASSWORD, --db-password and
// spring.datasource.password all end in "password". Matching on the suffix
// rather than anywhere keeps "password_hash", "tokenizer", "max_tokens" and
// "secret_name" out.
var passwordKeys = []string{"password", "passwd", "pwd", "passphrase", "passwort", "contrasena", "senha"}

var secretKeys = []string{
	"secret", "secretkey", "token", "apikey", "accesskey", "authkey", "privatekey",
	"credential", "credentials", "apitoken", "accesstoken", "authtoken", "refreshtoken",
	"bearertoken", "sessiontoken", "signingkey", "encryptionkey", "masterkey", "clientsecret",
	"webhooksecret", "appsecret", "consumersecret", "secretaccesskey", "sharedkey",
}

// authSchemes may precede the credential in an Authorization value.
var authSchemes = []string{"bearer ", "basic ", "token ", "bot ", "apikey ", "digest ", "signature ", "hmac ", "negotiate ", "ntlm "}

const (
	maxKey   = 64
	maxValue = 256
	// minSecretLen and minEntropy define "high entropy": eight or more
	// bytes, at least two character classes and 3 bits/byte of Shannon
	// entropy. "hunter2" and "changeme" stay, "Xk9#mP2$vL" and any API key
	// go.
	minSecretLen = 8
	minEntropy   = 2.5
)

// matchAssignment recognises KEY = VALUE, KEY: VALUE, KEY := VALUE and
// KEY => VALUE (each side optionally quoted) at the operator at i, where
// KEY names a secret, and reports VALUE. The key decides the type:
// PASSWORD for password-like names, AWS_SECRET_KEY / AZURE_STORAGE_KEY /
// AZURE_SHARED_KEY for those providers' names and value shapes, otherwise
// GENERIC_SECRET. Authorization headers are handled as a key too.
func (d *Detector) matchAssignment(text string, i int, runs *runCache) (start, end int, typ string, ok bool) {
	op := text[i]
	// Reject comparisons and scope operators: ==, !=, <=, >=, ::, and the
	// '=' of ":=" (handled at its ':').
	if i > 0 && strings.IndexByte("=!<>:", text[i-1]) >= 0 {
		return 0, 0, "", false
	}
	v := i + 1
	if v < len(text) {
		switch {
		case op == '=' && text[v] == '=', op == ':' && text[v] == ':':
			return 0, 0, "", false
		case op == ':' && text[v] == '=', op == '=' && text[v] == '>':
			v++
		}
	}

	typ = keyBefore(text, i)
	if typ == "" {
		return 0, 0, "", false
	}

	// The value.
	for sp := 0; v < len(text) && sp < 4 && (text[v] == ' ' || text[v] == '\t'); sp++ {
		v++
	}
	auth := typ == authHeader
	if auth {
		typ = GenericSecret
		for _, s := range authSchemes {
			if hasPrefixFold(text[v:], s) {
				v += len(s)
				break
			}
		}
	}
	start, end, ok = readValue(text, v, runs)
	if !ok {
		return 0, 0, "", false
	}
	if auth {
		// The scheme may sit inside the quotes: "Authorization": "Bearer x".
		for _, s := range authSchemes {
			if hasPrefixFold(text[start:end], s) {
				start += len(s)
				break
			}
		}
	}
	val := text[start:end]

	switch typ {
	case AWSSecretKey:
		if len(val) == 40 && span(val, 0, base64Std, 40) == 40 && classes(val) >= 3 {
			break
		}
		typ = GenericSecret
	case AzureStorageKey, AzureSharedKey:
		// Storage account keys are 64 random bytes (88 base64 chars);
		// Service Bus / Event Hubs shared access keys are 32 (44).
		if len(val) >= 40 && span(val, 0, base64Pad, len(val)) == len(val) && strings.HasSuffix(val, "=") {
			break
		}
		typ = GenericSecret
	}
	if !d.on[typ] {
		return 0, 0, "", false
	}
	bare := text[start-1] != '"' && text[start-1] != '\'' && text[start-1] != '`'
	if bare && end < len(text) && strings.IndexByte("([{", text[end]) >= 0 {
		return 0, 0, "", false // a call or index expression: code, not a value
	}
	// A bare value inside code (a member access, or followed by
	// punctuation that ends an argument or statement) is judged as a
	// possible identifier; elsewhere (.env, YAML, prose) it is judged like
	// a quoted value.
	code := bare && (strings.IndexByte(val, '.') >= 0 || end < len(text) && strings.IndexByte(",;)}]", text[end]) >= 0)
	if !highEntropy(val, code) {
		return 0, 0, "", false
	}
	// A PEM block is left whole for matchPEM; the quoted JSON string
	// around it would otherwise outgrow it and win the merge.
	if strings.HasPrefix(val, "-----BEGIN ") {
		return 0, 0, "", false
	}
	return start, end, typ, true
}

// keyBefore reads the key in front of the operator at i (optional spaces,
// an optional closing quote, then key bytes) and classifies it with
// keyType; "" if there is no key or it names no secret.
func keyBefore(text string, i int) string {
	k := i
	for sp := 0; k > 0 && sp < 2 && (text[k-1] == ' ' || text[k-1] == '\t'); sp++ {
		k--
	}
	if k > 0 && (text[k-1] == '"' || text[k-1] == '\'' || text[k-1] == '`') {
		k--
	}
	ks := k
	for ks > 0 && k-ks < maxKey && keyChar.has(text[ks-1]) {
		ks--
	}
	if ks == k || ks > 0 && keyChar.has(text[ks-1]) {
		return ""
	}
	if ks >= 3 && text[ks-3:ks] == "://" {
		return "" // user:password in a URL is matchURLCredentials' job
	}
	var nb [maxKey]byte
	return keyType(normaliseKey(text[ks:k], nb[:0]))
}

// authHeader is keyType's marker for Authorization-style keys.
const authHeader = "\x00auth"

// keyType classifies a normalised key. It works on bytes so that the
// common case, prose with a colon in it, allocates nothing.
func keyType(key []byte) string {
	if len(key) == 0 || !keyLastByte[key[len(key)-1]] {
		return "" // most keys in prose ("Note:", "target:") stop here
	}
	switch {
	case string(key) == "authorization" || string(key) == "proxyauthorization":
		return authHeader
	case hasSuffix(key, "accountkey"):
		return AzureStorageKey
	case hasSuffix(key, "sharedaccesskey"):
		return AzureSharedKey
	case hasSuffix(key, "secretaccesskey") || hasSuffix(key, "secretkey") && bytes.Contains(key, []byte("aws")):
		return AWSSecretKey
	}
	for _, s := range passwordKeys {
		if hasSuffix(key, s) {
			return Password
		}
	}
	for _, s := range secretKeys {
		if hasSuffix(key, s) {
			return GenericSecret
		}
	}
	return ""
}

// keyLastByte marks the last bytes of every suffix keyType knows.
var keyLastByte = func() (t [256]bool) {
	for _, list := range [][]string{passwordKeys, secretKeys, {"authorization", "accountkey", "sharedaccesskey", "secretkey"}} {
		for _, k := range list {
			t[k[len(k)-1]] = true
		}
	}
	return t
}()

func hasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

// normaliseKey lower-cases key into buf and drops '_', '-' and '.'.
func normaliseKey(key string, buf []byte) []byte {
	for i := 0; i < len(key); i++ {
		switch c := key[i]; c {
		case '_', '-', '.':
		default:
			buf = append(buf, toLower(c))
		}
	}
	return buf
}

// readValue reads a quoted or bare value starting at v.
func readValue(text string, v int, runs *runCache) (start, end int, ok bool) {
	if v >= len(text) {
		return 0, 0, false
	}
	if q := text[v]; q == '"' || q == '\'' || q == '`' {
		e := v + 1
		for e < len(text) && e-v <= maxValue && text[e] != q && text[e] != '\n' {
			if text[e] == '\\' && q != '`' {
				e++ // skip the escaped byte
			}
			e++
		}
		if e >= len(text) || text[e] != q || e-v > maxValue {
			return 0, 0, false
		}
		return v + 1, e, true
	}
	e := min(runs.runEnd(text, v, unquotedValue), v+maxValue+1)
	if e-v > maxValue {
		return 0, 0, false
	}
	// A trailing full stop ends the sentence, not the secret.
	for e > v && text[e-1] == '.' {
		e--
	}
	return v, e, e > v
}

// highEntropy reports whether a value looks random enough to be a
// credential rather than a word, a number or a code reference. In code
// (see matchAssignment), values made only of letters, '_' and '.' are
// references (config.password, os.environ), whatever their entropy.
func highEntropy(v string, code bool) bool {
	if len(v) < minSecretLen || isPlaceholder(v) {
		return false
	}
	if code && identifierLike(v) || wordLike(v, code) {
		return false
	}
	// Shannon entropy of n bytes is at most log2(n), so short values get
	// a proportionally lower bar: 2.25 bits at 8 bytes, 2.5 from 11 on.
	return classes(v) >= 2 && entropy(v) >= min(minEntropy, 0.75*math.Log2(float64(len(v))))
}

// wordLike reports whether v reads as words rather than random bytes:
// "X-Fake-Connection-Token", "a-secret-key", "encodeUserPassword", or (with
// code set, for bare values in code, where digits are allowed)
// identifiers such as "testRSA2048PrivateKey" and "tls13.NewEarlySecret". Such values score
// well on entropy and character classes, but they are names and stand-ins
// far more often than passphrases.
//
// v is split into letter runs at non-letters and camelCase humps. A run is
// a word if it is three or more letters, capitalised or lower case, with a
// vowel in it; acronyms and lone capitals are neutral. Word-like means at
// least two words covering at least 80% of the letters outside acronyms.
// Random strings rarely manage that: their runs are short and often
// vowel-less ("vLqRtZabcd" is "v", "Lq", "Rt", "Zabcd"; "k3jd9xqmzp7" is
// "k", "jd", "xqmzp"). Outside code a digit makes a value not word-like
// ("MySecret2024" is a password).
func wordLike(v string, code bool) bool {
	words, wordLetters, letterCount := 0, 0, 0
	capWords := 0
	for i := 0; i < len(v); {
		c := v[i]
		if isDigit(c) && !code {
			return false
		}
		if !letters.has(c) {
			i++
			continue
		}
		j := i + 1
		if isUpper(c) && j < len(v) && isUpper(v[j]) {
			// An acronym runs up to the capital that starts the next
			// hump: "HTTPServer" is HTTP + Server. Neutral either way.
			for j < len(v) && isUpper(v[j]) && (j+1 >= len(v) || !isLower(v[j+1])) {
				j++
			}
			i = j
			continue
		}
		for j < len(v) && isLower(v[j]) {
			j++
		}
		n := j - i
		if n == 1 && isUpper(c) {
			i = j
			continue // a lone capital: "X-Fake"
		}
		letterCount += n
		if n >= 3 && hasVowel(v[i:j]) {
			words++
			wordLetters += n
			if isUpper(c) {
				capWords++
			}
		}
		i = j
	}
	if words == 1 && wordLetters == len(v) {
		return true // a single word: "token: Variable"
	}
	if code {
		// Bare code references are camelCase: at least two capitalised
		// words ("ecTestKey256", "tls13.NewEarlySecret"). A bare run of
		// lower case and digits ("k3jd9xqmzp7abc") is how base36 keys
		// look, and .env files are full of bare secrets, so the bar is
		// higher than for quoted values.
		return capWords >= 2 && 4*wordLetters >= 3*letterCount
	}
	return words >= 2 && 5*wordLetters >= 4*letterCount
}

func hasVowel(s string) bool {
	for i := 0; i < len(s); i++ {
		switch toLower(s[i]) {
		case 'a', 'e', 'i', 'o', 'u', 'y':
			return true
		}
	}
	return false
}

// identifierLike reports whether v is only letters, '_' and '.': a bare
// code reference such as config.password or os.environ.
func identifierLike(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; !letters.has(c) && c != '_' && c != '.' {
			return false
		}
	}
	return true
}
