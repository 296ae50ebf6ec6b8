// SPDX-License-Identifier: Apache-2.0

package secrets

import "github.com/bulwarkai/bulwark/internal/guard/entity"

var azureSecretClass = newClass("A-Za-z0-9_~.-")

// matchAzureClientSecret matches an Entra ID (Azure AD) client secret,
// whose fourth character is a digit followed by "Q~": xxx8Q~ + 31-34 bytes.
// q is the index of the 'Q'.
func matchAzureClientSecret(text string, q int) (start, end int, ok bool) {
	s := q - 4
	if s < 0 || !isDigit(text[q-1]) {
		return 0, 0, false
	}
	for k := s; k < q-1; k++ {
		if !azureSecretClass.has(text[k]) || text[k] == '-' {
			return 0, 0, false
		}
	}
	if s > 0 && azureSecretClass.has(text[s-1]) {
		return 0, 0, false
	}
	e := span(text, q+2, azureSecretClass, 35)
	if n := e - q - 2; n < 31 || n > 34 {
		return 0, 0, false
	}
	if entropy(text[s:e]) < 3.5 {
		return 0, 0, false
	}
	return s, e, true
}

var telegramClass = newClass("A-Za-z0-9_-")

// matchTelegram matches a Telegram bot token, <bot id>:AA<33 bytes>, given
// the ':' at i.
func matchTelegram(text string, i int) (start, end int, ok bool) {
	s := i
	for s > 0 && isDigit(text[s-1]) && i-s <= 10 {
		s--
	}
	if n := i - s; n < 8 || n > 10 || s > 0 && isWord(text[s-1]) {
		return 0, 0, false
	}
	if i+3 >= len(text) || text[i+1] != 'A' || text[i+2] != 'A' {
		return 0, 0, false
	}
	e := span(text, i+3, telegramClass, 34)
	if e-i-3 != 33 || e < len(text) && isWord(text[e]) {
		return 0, 0, false
	}
	return s, e, true
}

// awsWindow is how far from an access key id a secret key is looked for.
const awsWindow = 512

// findAWSSecretsNear reports 40-byte base64 runs near an AWS access key id
// (CSV exports, "aws configure" transcripts, code that passes both).
// On its own such a run is indistinguishable from any base64; next to a key
// id it is almost certainly the secret half. Mixed case and a digit are
// required, which rules out git SHAs and other hex.
func findAWSSecretsNear(text string, dst []entity.Finding, from int) []entity.Finding {
	for _, f := range dst[from:] {
		if f.Type != AWSAccessKey {
			continue
		}
		lo, hi := max(0, f.Start-awsWindow), min(len(text), f.End+awsWindow)
		for k := lo; k < hi; {
			if !base64Std.has(text[k]) {
				k++
				continue
			}
			e := span(text, k, base64Std, 41)
			if e-k == 40 && (k == 0 || !base64Pad.has(text[k-1])) && (e == len(text) || !base64Pad.has(text[e])) {
				v := text[k:e]
				if hasUpperLowerDigit(v) && entropy(v) >= 4 {
					dst = append(dst, entity.Finding{Start: k, End: e, Type: AWSSecretKey})
				}
			}
			// Skip the rest of this run.
			for e < len(text) && base64Pad.has(text[e]) {
				e++
			}
			k = e
		}
	}
	return dst
}

func hasUpperLowerDigit(s string) bool {
	var up, lo, dg bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isUpper(c):
			up = true
		case isLower(c):
			lo = true
		case isDigit(c):
			dg = true
		}
	}
	return up && lo && dg
}
