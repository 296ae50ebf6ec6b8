// SPDX-License-Identifier: Apache-2.0

package injection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"text/tabwriter"
	"time"
)

// Metrics summarises the model's decisions on labelled data. Rates whose
// denominator is zero (recall without positives, precision without
// predicted positives) are reported as 0; check the counts.
type Metrics struct {
	// N is the number of rows; Positives and Negatives split it by label.
	N, Positives, Negatives int
	// TP, FP, TN and FN count decisions at the threshold.
	TP, FP, TN, FN int
	// Recall is TP/Positives, FPR is FP/Negatives, Precision is
	// TP/(TP+FP), F1 their harmonic mean.
	Recall, FPR, Precision, F1 float64
	// LatencyP50, LatencyP99 and LatencyMax are wall-clock Score times
	// (nearest-rank percentiles).
	LatencyP50, LatencyP99, LatencyMax time.Duration
}

// errBadRow marks an input row that Evaluate cannot use.
var errBadRow = errors.New("bad evaluation row")

// evalRow is one JSONL row; other fields are ignored.
type evalRow struct {
	Text  string          `json:"text"`
	Label json.RawMessage `json:"label"`
}

// isPositive maps a label to the class: "benign", "injection" or
// "jailbreak", or the 0/1 and false/true that public datasets use. Unknown
// labels are an error rather than silently counted as benign.
func isPositive(label json.RawMessage) (bool, error) {
	switch string(label) {
	case `"benign"`, `0`, `false`:
		return false, nil
	case `"injection"`, `"jailbreak"`, `1`, `true`:
		return true, nil
	}
	if len(label) == 0 {
		return false, fmt.Errorf("%w: no label", errBadRow)
	}
	return false, fmt.Errorf("%w: label %s (want \"benign\", \"injection\", \"jailbreak\", 0, 1, false or true)", errBadRow, label)
}

// tally accumulates decisions and latencies.
type tally struct {
	tp, fp, tn, fn int
	lat            []time.Duration
}

func (t *tally) add(positive, flagged bool, d time.Duration) {
	switch {
	case positive && flagged:
		t.tp++
	case positive:
		t.fn++
	case flagged:
		t.fp++
	default:
		t.tn++
	}
	t.lat = append(t.lat, d)
}

func (t *tally) metrics() Metrics {
	m := Metrics{
		TP: t.tp, FP: t.fp, TN: t.tn, FN: t.fn,
		Positives: t.tp + t.fn, Negatives: t.fp + t.tn,
	}
	m.N = m.Positives + m.Negatives
	m.Recall = ratio(t.tp, m.Positives)
	m.FPR = ratio(t.fp, m.Negatives)
	m.Precision = ratio(t.tp, t.tp+t.fp)
	if m.Recall+m.Precision > 0 {
		m.F1 = 2 * m.Recall * m.Precision / (m.Recall + m.Precision)
	}
	lat := slices.Clone(t.lat)
	slices.Sort(lat)
	m.LatencyP50 = percentile(lat, 0.50)
	m.LatencyP99 = percentile(lat, 0.99)
	if len(lat) > 0 {
		m.LatencyMax = lat[len(lat)-1]
	}
	return m
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// percentile returns the nearest-rank q-quantile of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(k, 0)]
}

// Evaluate runs the model over JSONL files with rows {"text","label"} (label
// "benign" is negative; "injection"/"jailbreak" positive; other fields
// ignored) and writes, per file and overall: n, recall, false-positive rate,
// precision, F1 and Score latency p50/p99/max. threshold<=0 means
// m.Threshold(). It returns the overall metrics.
func Evaluate(ctx context.Context, m *Model, files []string, threshold float64, w io.Writer) (Metrics, error) {
	if threshold <= 0 {
		threshold = m.Threshold()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "file\tn\tpos\tneg\trecall\tfpr\tprecision\tf1\tp50\tp99\tmax\t\n")
	var all tally
	for _, name := range files {
		var t tally
		if err := evaluateFile(ctx, m, name, threshold, &t); err != nil {
			return Metrics{}, err
		}
		writeRow(tw, name, t.metrics())
		all.tp, all.fp, all.tn, all.fn = all.tp+t.tp, all.fp+t.fp, all.tn+t.tn, all.fn+t.fn
		all.lat = append(all.lat, t.lat...)
	}
	overall := all.metrics()
	writeRow(tw, "overall", overall)
	if err := tw.Flush(); err != nil {
		return Metrics{}, fmt.Errorf("writing evaluation report: %w", err)
	}
	if _, err := fmt.Fprintf(w, "threshold %.4f\n", threshold); err != nil {
		return Metrics{}, fmt.Errorf("writing evaluation report: %w", err)
	}
	return overall, nil
}

func evaluateFile(ctx context.Context, m *Model, name string, threshold float64, t *tally) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("evaluating: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	for line := 1; ; line++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("evaluating %s: %w", name, err)
		}
		var row evalRow
		if err := dec.Decode(&row); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("evaluating %s row %d: %w", name, line, err)
		}
		positive, err := isPositive(row.Label)
		if err != nil {
			return fmt.Errorf("evaluating %s row %d: %w", name, line, err)
		}
		start := time.Now()
		p := m.Score(row.Text)
		t.add(positive, p >= threshold, time.Since(start))
	}
}

func writeRow(w io.Writer, name string, m Metrics) {
	rate := func(v float64, defined bool) string {
		if !defined {
			return "-"
		}
		return fmt.Sprintf("%.4f", v)
	}
	fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, m.N, m.Positives, m.Negatives,
		rate(m.Recall, m.Positives > 0), rate(m.FPR, m.Negatives > 0), rate(m.Precision, m.TP+m.FP > 0),
		rate(m.F1, m.Positives > 0 && m.TP+m.FP > 0),
		fmtDur(m.LatencyP50), fmtDur(m.LatencyP99), fmtDur(m.LatencyMax))
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
}
