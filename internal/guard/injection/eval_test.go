// SPDX-License-Identifier: Apache-2.0

package injection

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bulwarkai/bulwark/internal/guard/injection/internal/feature"
	"github.com/bulwarkai/bulwark/internal/guard/injection/internal/textnorm"
)

// keywordModel returns a tiny model that scores texts containing the word
// "evil" high (0.88 to 0.98) and everything else low (about 0.05).
func keywordModel(t *testing.T) *Model {
	t.Helper()
	cfg := feature.Config{Bits: 12, CharMin: 3, CharMax: 3, Window: 8, Stride: 4}
	p := &feature.Params{Config: cfg, Bias: -3, Threshold: 0.5, Scale: 1, Weights: make([]int16, 1<<cfg.Bits)}
	var n textnorm.Normalizer
	var buf feature.Buf
	cfg.Extract(&buf, n.Append(nil, "evil"))
	for _, i := range buf.Idx {
		p.Weights[i] = 3
	}
	data, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	for text, wantHigh := range map[string]bool{"evil": true, "so evil": true, "hello": false, "fine": false, "ok": false} {
		if got := m.Score(text) >= 0.5; got != wantHigh {
			t.Fatalf("keyword model: Score(%q) >= 0.5 is %v, want %v", text, got, wantHigh)
		}
	}
	return m
}

func writeJSONL(t *testing.T, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEvaluate(t *testing.T) {
	m := keywordModel(t)
	// a: one true positive, one false negative, one true negative.
	a := writeJSONL(t, "a.jsonl",
		`{"text":"evil","label":"injection","source":"x","license":"y"}`,
		`{"text":"hello","label":1}`,
		`{"text":"fine","label":false}`,
	)
	// b: one true positive, one false positive, one true negative.
	b := writeJSONL(t, "b.jsonl",
		`{"text":"so evil","label":"jailbreak"}`,
		`{"text":"evil","label":"benign"}`,
		`{"text":"ok","label":0}`,
	)
	var out strings.Builder
	got, err := Evaluate(t.Context(), m, []string{a, b}, 0, &out)
	if err != nil {
		t.Fatalf("Evaluate() error = %v", err)
	}
	want := Metrics{
		N: 6, Positives: 3, Negatives: 3,
		TP: 2, FP: 1, TN: 2, FN: 1,
		Recall: 2.0 / 3, FPR: 1.0 / 3, Precision: 2.0 / 3, F1: 2.0 / 3,
	}
	ignoreLatency := cmpopts.IgnoreFields(Metrics{}, "LatencyP50", "LatencyP99", "LatencyMax")
	if diff := cmp.Diff(want, got, ignoreLatency, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("Evaluate() metrics mismatch (-want +got):\n%s", diff)
	}
	if got.LatencyP50 <= 0 || got.LatencyP50 > got.LatencyP99 || got.LatencyP99 > got.LatencyMax {
		t.Errorf("Evaluate() latencies p50=%v p99=%v max=%v, want 0 < p50 <= p99 <= max", got.LatencyP50, got.LatencyP99, got.LatencyMax)
	}
	// Compare with runs of spaces collapsed: column widths depend on the
	// temporary paths.
	report := strings.Join(strings.Fields(out.String()), " ")
	for _, wantLine := range []string{
		"a.jsonl 3 2 1 0.5000 0.0000 1.0000 0.6667",
		"b.jsonl 3 1 2 1.0000 0.5000 0.5000 0.6667",
		"overall 6 3 3 0.6667 0.3333 0.6667 0.6667",
		"threshold 0.5000",
	} {
		if !strings.Contains(report, wantLine) {
			t.Errorf("Evaluate() report lacks %q:\n%s", wantLine, report)
		}
	}
}

func TestEvaluateThreshold(t *testing.T) {
	m := keywordModel(t)
	f := writeJSONL(t, "t.jsonl", `{"text":"evil","label":"injection"}`, `{"text":"fine","label":"benign"}`)
	tests := []struct {
		name      string
		threshold float64
		wantTP    int
		wantFP    int
	}{
		{name: "model threshold", threshold: 0, wantTP: 1},
		{name: "negative means model threshold", threshold: -1, wantTP: 1},
		{name: "above every score", threshold: 0.99, wantTP: 0},
		{name: "below every score", threshold: 0.001, wantTP: 1, wantFP: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Evaluate(t.Context(), m, []string{f}, tt.threshold, &strings.Builder{})
			if err != nil {
				t.Fatalf("Evaluate(threshold %v) error = %v", tt.threshold, err)
			}
			if got.TP != tt.wantTP || got.FP != tt.wantFP {
				t.Errorf("Evaluate(threshold %v) TP, FP = %d, %d; want %d, %d", tt.threshold, got.TP, got.FP, tt.wantTP, tt.wantFP)
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	m := keywordModel(t)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	good := writeJSONL(t, "good.jsonl", `{"text":"x","label":"benign"}`)
	tests := []struct {
		name    string
		ctx     context.Context
		file    string
		wantErr error
		wantMsg string
	}{
		{name: "missing file", ctx: t.Context(), file: filepath.Join(t.TempDir(), "none.jsonl"), wantErr: os.ErrNotExist},
		{name: "unknown label", ctx: t.Context(), file: writeJSONL(t, "l.jsonl", `{"text":"x","label":"spam"}`), wantErr: errBadRow, wantMsg: "row 1"},
		{name: "other number", ctx: t.Context(), file: writeJSONL(t, "n.jsonl", `{"text":"x","label":0}`, `{"text":"x","label":2}`), wantErr: errBadRow, wantMsg: "row 2"},
		{name: "no label", ctx: t.Context(), file: writeJSONL(t, "m.jsonl", `{"text":"x"}`), wantErr: errBadRow, wantMsg: "row 1"},
		{name: "bad json", ctx: t.Context(), file: writeJSONL(t, "j.jsonl", `{"text":"x","label":"benign"}`, `{"text":`), wantMsg: "row 2"},
		{name: "canceled", ctx: canceled, file: good, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Evaluate(tt.ctx, m, []string{tt.file}, 0, &strings.Builder{})
			if err == nil {
				t.Fatalf("Evaluate(%s) error = nil, want error", tt.name)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Evaluate(%s) error = %v, want errors.Is %v", tt.name, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Evaluate(%s) error = %q, want it to contain %q", tt.name, err, tt.wantMsg)
			}
		})
	}
}
