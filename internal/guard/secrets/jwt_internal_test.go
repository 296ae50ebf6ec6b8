// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"encoding/base64"
	"testing"
)

func TestDecodeBase64URL(t *testing.T) {
	for _, in := range []string{"", "f", "fo", "foo", "foob", "fooba", "foobar", `{"alg":"HS256","typ":"JWT"}`, "\xff\x00\xfe"} {
		enc := base64.RawURLEncoding.EncodeToString([]byte(in))
		var buf [64]byte
		n, ok := decodeBase64URL(buf[:], enc)
		if !ok || string(buf[:n]) != in {
			t.Errorf("decodeBase64URL(%q) = %q, %v, want %q, true", enc, buf[:n], ok, in)
		}
	}
	for _, bad := range []string{"A", "ab+c", "ab/c", "ab=c", "AB", "ABCDE"} {
		var buf [64]byte
		_, ok := decodeBase64URL(buf[:], bad)
		_, err := base64.RawURLEncoding.DecodeString(bad)
		if ok != (err == nil) {
			t.Errorf("decodeBase64URL(%q) ok = %v, encoding/base64 err = %v", bad, ok, err)
		}
	}
}
