// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// benignDir holds the project's shared benign prompt sets. They are read at
// test time and never copied into the repository.
const benignDir = "/work/shared/data/guard"

func loadBenign(t testing.TB, limit int) map[string][]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(benignDir, "benign_*.jsonl"))
	if len(files) == 0 {
		t.Skipf("no benign prompt files in %s", benignDir)
	}
	out := map[string][]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		name := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		for sc.Scan() && (limit <= 0 || len(out[name]) < limit) {
			var row struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(sc.Bytes(), &row) == nil && row.Text != "" {
				out[name] = append(out[name], row.Text)
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("reading %s: %v", f, err)
		}
	}
	return out
}

// inspect runs one chat request carrying prompt through s, as the handler
// would after parsing it, and reports whether s refused it.
func inspect(t testing.TB, s *Stage, prompt string) (*pipeline.Decision, *Audit) {
	body := []byte(chatBody(prompt, ""))
	req := httptest.NewRequest("POST", "https://gateway.example.com"+chatPath, nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "OpenAI/Python 1.40.0")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer sk-test-0123456789abcdef")
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	rc := &pipeline.RequestContext{ID: "fp", Request: req, Body: body, API: llm.APIChat}
	parsed, err := llm.Parse(llm.APIChat, body)
	if err != nil {
		t.Fatalf("parse %q: %v", prompt, err)
	}
	rc.LLM = parsed
	d, err := s.OnRequest(t.Context(), rc)
	if err != nil {
		t.Fatalf("OnRequest: %v", err)
	}
	a, _ := rc.AuditFields()[0].Value.(*Audit)
	return d, a
}

// TestBenignSample runs the first prompts of each benign set through the
// AI-aware WAF at PL1: none may be blocked.
func TestBenignSample(t *testing.T) {
	sets := loadBenign(t, 100)
	s := mustStage(t, config.WAF{}, nil)
	for name, texts := range sets {
		t.Run(name, func(t *testing.T) {
			for _, p := range texts {
				if d, a := inspect(t, s, p); d != nil {
					t.Errorf("benign prompt blocked (rules %v): %q", a.Rules, p)
				}
			}
		})
	}
}

// TestFalsePositiveEval measures blocks over every benign prompt at PL1
// and PL2, AI-aware and with inspectPrompts, for docs/waf.md. It takes
// several minutes; run it with BULWARK_WAF_FP_EVAL=1.
func TestFalsePositiveEval(t *testing.T) {
	if os.Getenv("BULWARK_WAF_FP_EVAL") == "" {
		t.Skip("set BULWARK_WAF_FP_EVAL=1 to measure false positives over the shared benign sets")
	}
	sets := loadBenign(t, 0)
	names := make([]string, 0, len(sets))
	total := 0
	for n, texts := range sets {
		names = append(names, n)
		total += len(texts)
	}
	sort.Strings(names)
	type variant struct {
		name string
		cfg  config.WAF
	}
	variants := []variant{
		{"PL1 ai-aware", config.WAF{ParanoiaLevel: 1}},
		{"PL1 inspectPrompts", config.WAF{ParanoiaLevel: 1, InspectPrompts: true}},
		{"PL2 ai-aware", config.WAF{ParanoiaLevel: 2}},
		{"PL2 inspectPrompts", config.WAF{ParanoiaLevel: 2, InspectPrompts: true}},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| set | prompts |")
	for _, v := range variants {
		fmt.Fprintf(&table, " %s |", v.name)
	}
	table.WriteString("\n|---|---:|" + strings.Repeat("---:|", len(variants)) + "\n")
	counts := make([]map[string]int, len(variants))
	ruleCounts := make([]map[int]int, len(variants))
	for i, v := range variants {
		s := mustStage(t, v.cfg, nil)
		counts[i], ruleCounts[i] = map[string]int{}, map[int]int{}
		var mu sync.Mutex
		for _, n := range names {
			var blocked atomic.Int64
			work := make(chan string)
			var wg sync.WaitGroup
			for range runtime.GOMAXPROCS(0) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for p := range work {
						if d, a := inspect(t, s, p); d != nil {
							blocked.Add(1)
							mu.Lock()
							for _, id := range a.Rules {
								ruleCounts[i][id]++
							}
							mu.Unlock()
						}
					}
				}()
			}
			for _, p := range sets[n] {
				work <- p
			}
			close(work)
			wg.Wait()
			counts[i][n] = int(blocked.Load())
		}
	}
	sums := make([]int, len(variants))
	for _, n := range names {
		fmt.Fprintf(&table, "| %s | %d |", n, len(sets[n]))
		for i := range variants {
			fmt.Fprintf(&table, " %d |", counts[i][n])
			sums[i] += counts[i][n]
		}
		table.WriteByte('\n')
	}
	fmt.Fprintf(&table, "| **total** | %d |", total)
	for i := range variants {
		fmt.Fprintf(&table, " **%d** (%.2f%%) |", sums[i], 100*float64(sums[i])/float64(total))
	}
	t.Logf("false positives (blocked benign prompts):\n%s", table.String())
	for i, v := range variants {
		type rc struct{ id, n int }
		var top []rc
		for id, n := range ruleCounts[i] {
			if id != 949110 {
				top = append(top, rc{id, n})
			}
		}
		sort.Slice(top, func(a, b int) bool { return top[a].n > top[b].n })
		if len(top) > 8 {
			top = top[:8]
		}
		t.Logf("%s: most frequent rules in blocked prompts: %v", v.name, top)
	}
	if sums[0] != 0 {
		t.Errorf("AI-aware PL1 blocked %d benign prompts, want 0", sums[0])
	}
}
