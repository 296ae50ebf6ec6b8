// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"math/rand/v2"
	"testing"
)

func TestWordLike(t *testing.T) {
	tests := []struct {
		v    string
		code bool
		want bool
	}{
		{"X-Fake-Connection-Token", false, true},
		{"quoted string", false, true},
		{"a-secret-key", false, true},
		{"encodeUserPassword", false, true},
		{"HTTPServerKey", false, true},
		{"correct-horse-battery-staple", false, true},
		{"testRSA2048PrivateKey", true, true},
		{"ecTestKey256", true, true},
		{"base64.StdEncoding.EncodeToString", true, true},
		{"tls13.NewEarlySecret", true, true},
		{"oauth2-secret-token", false, false}, // quoted, digit
		{"ed25519PrivateKey", true, true},
		{"Variable", false, true},
		{"vLqRtZabcd", false, false},
		{"Xk9mP2vLqR", true, false},
		{"Xk9#mP2$vLq", false, false},
		{"P4ssw0rd!", false, false},
		{"Tr0ub4dor&3", false, false},
		{"qwhdkzmvbnrt", false, false}, // one vowel-less run
		{"k3jd9xqmzp7", true, false},
		{"N0t-s0-S3cret!", false, false},
		{"aB3xYz", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.v, func(t *testing.T) {
			if got := wordLike(tt.v, tt.code); got != tt.want {
				t.Errorf("wordLike(%q, %v) = %v, want %v", tt.v, tt.code, got, tt.want)
			}
		})
	}
}

func TestEntropy(t *testing.T) {
	tests := []struct {
		s    string
		want float64
	}{
		{"", 0},
		{"aaaa", 0},
		{"ab", 1},
		{"abcd", 2},
		{"0123456789abcdef", 4},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			if got := entropy(tt.s); got != tt.want {
				t.Errorf("entropy(%q) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

// TestRandomValuesPass checks the cost of the look-alike filters on real
// secrets: random values of common alphabets, assigned to a secret name
// outside code, are rejected by highEntropy (as words, placeholders or
// low entropy) at most maxMiss of the time.
func TestRandomValuesPass(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name     string
		alphabet string
		n        int
		maxMiss  float64
	}{
		{"base62-16", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 16, 0.01},
		{"base62-32", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 32, 0.001},
		{"hex-32", "0123456789abcdef", 32, 0.001},
		{"base36-24", "abcdefghijklmnopqrstuvwxyz0123456789", 24, 0.002},
		{"password-12", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*", 12, 0.02},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const samples = 5000
			miss := 0
			b := make([]byte, tt.n)
			for range samples {
				for i := range b {
					b[i] = tt.alphabet[r.IntN(len(tt.alphabet))]
				}
				if !highEntropy(string(b), false) {
					miss++
				}
			}
			if got := float64(miss) / samples; got > tt.maxMiss {
				t.Errorf("highEntropy rejected %.2f%% of random %s values, want <= %.2f%%", 100*got, tt.name, 100*tt.maxMiss)
			}
		})
	}
}
