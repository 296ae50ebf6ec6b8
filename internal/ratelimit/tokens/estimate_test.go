// SPDX-License-Identifier: Apache-2.0

package tokens

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bulwarkai/bulwark/internal/llm"
)

type realCount struct {
	Bytes  int `json:"bytes"`
	Cl100k int `json:"cl100k_base"`
	O200k  int `json:"o200k_base"`
}

func loadCorpus(t testing.TB) (names []string, texts map[string]string, counts map[string]realCount) {
	t.Helper()
	b, err := os.ReadFile("testdata/counts.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &counts); err != nil {
		t.Fatal(err)
	}
	texts = map[string]string{}
	for name, c := range counts {
		b, err := os.ReadFile(filepath.Join("testdata/corpus", name+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != c.Bytes {
			t.Fatalf("%s changed since counts.json was made: rerun calibrate (cd calibrate && go run .)", name)
		}
		texts[name] = string(b)
		names = append(names, name)
	}
	sort.Strings(names)
	return names, texts, counts
}

// TestEstimateError measures Count against real cl100k_base and o200k_base
// counts of every corpus sample and holds it to the documented bounds: at
// least 85% of the larger real count on every sample, at most 1.5 times
// it, and above both in total (estimates lean high, so reservations rarely
// fall short).
// Run with -v for the table in docs/limits.md.
func TestEstimateError(t *testing.T) {
	names, texts, counts := loadCorpus(t)
	var table strings.Builder
	fmt.Fprintf(&table, "| sample | bytes | cl100k | o200k | estimate | vs cl100k | vs o200k |\n|---|---:|---:|---:|---:|---:|---:|\n")
	var sumCl, sumO2, sumEst float64
	worstLow, worstHigh := math.Inf(1), 0.0
	for _, name := range names {
		c := counts[name]
		est := Count(texts[name])
		hi := max(c.Cl100k, c.O200k)
		r := float64(est) / float64(hi)
		worstLow, worstHigh = min(worstLow, r), max(worstHigh, r)
		sumCl += float64(c.Cl100k)
		sumO2 += float64(c.O200k)
		sumEst += float64(est)
		fmt.Fprintf(&table, "| %s | %d | %d | %d | %d | %+.0f%% | %+.0f%% |\n", name, c.Bytes, c.Cl100k, c.O200k, est,
			100*(float64(est)/float64(c.Cl100k)-1), 100*(float64(est)/float64(c.O200k)-1))
		t.Run(name, func(t *testing.T) {
			if r < 0.85 || r > 1.5 {
				t.Errorf("Count(%s) = %d, want within [0.85, 1.5] of max(cl100k %d, o200k %d)", name, est, c.Cl100k, c.O200k)
			}
		})
	}
	fmt.Fprintf(&table, "| **total** | | %.0f | %.0f | %.0f | %+.0f%% | %+.0f%% |\n", sumCl, sumO2, sumEst, 100*(sumEst/sumCl-1), 100*(sumEst/sumO2-1))
	if sumEst < sumCl || sumEst < sumO2 {
		t.Errorf("total estimate %.0f is below the real totals (cl100k %.0f, o200k %.0f)", sumEst, sumCl, sumO2)
	}
	t.Logf("estimate / max(real): lowest %.2f, highest %.2f\n%s", worstLow, worstHigh, table.String())
}

func TestCount(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"empty", "", 0},
		{"one word", "hello", 1},
		{"sentence", "The cat sat on the mat.", 7},
		{"digits grouped by three", "1234567", 3},
		{"contraction", "it's", 2},
		{"indentation", "\n        return", 3},
		{"han", "你好", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Count(tt.in); got != tt.want {
				t.Errorf("Count(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzCount(f *testing.F) {
	for _, s := range []string{"", "hello world", "你好", "a\x00b", "\xff\xfe", "   \n\t", "😂😂", "x := f(y)[0]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Count(s)
		// Every piece costs at most a couple of tokens per byte.
		if n < 0 || n > 2*len(s)+1 {
			t.Errorf("Count(%q) = %d, out of [0, %d]", s, n, 2*len(s)+1)
		}
	})
}

func BenchmarkCount(b *testing.B) {
	_, texts, _ := loadCorpus(b)
	for _, name := range []string{"en-prose", "zh", "go-algo.go"} {
		text := texts[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				Count(text)
			}
		})
	}
}

func TestPrompt(t *testing.T) {
	tests := []struct {
		name string
		body string
		api  llm.API
		want int64
	}{
		// 3 priming + "hi" (1) + 40 framing bytes / 4.
		{"chat", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, llm.APIChat, 3 + 1 + 14},
		{"image", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, llm.APIChat, 3 + ImageTokens + 25}, // 100 framing bytes
		{"token ids", `{"model":"m","prompt":[1,2,3]}`, llm.APICompletions, 3 + 3 + 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := llm.Parse(tt.api, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := Prompt(r, len(tt.body)); got != tt.want {
				t.Errorf("Prompt(%s) = %d, want %d", tt.body, got, tt.want)
			}
		})
	}
	if got := Prompt(nil, 100); got != 0 {
		t.Errorf("Prompt(nil) = %d, want 0", got)
	}
}
