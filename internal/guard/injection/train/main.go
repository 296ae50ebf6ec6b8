// SPDX-License-Identifier: Apache-2.0

// Command train builds the prompt-injection classifier's model file.
//
//	go run ./internal/guard/injection/train -data /work/shared/data/guard \
//	    -out internal/guard/injection/model.bin [-heldout /tmp/guard-heldout]
//	go run ./internal/guard/injection/train eval [-model FILE] FILE.jsonl...
//	go run ./internal/guard/injection/train -out FILE -loto   # leave-one-template-out validation
//
// It reads the public datasets in -data and the hand-written cases in
// -extra/train, holds out whole sources, templates, languages and
// near-duplicate clusters (see assignSplits), fits a logistic regression,
// picks the decision threshold on a validation split of the training
// sources, and writes the model. With -heldout it also writes the held-out
// rows there (never into the repository: they are derived from the public
// data) and prints the evaluation on them. The run is deterministic for a
// given -seed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/bulwarkai/bulwark/internal/guard/injection"
	"github.com/bulwarkai/bulwark/internal/guard/injection/internal/feature"
	"github.com/bulwarkai/bulwark/internal/guard/injection/internal/textnorm"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

type options struct {
	data, extra, out, heldout, date  string
	dumpVal                          string
	curve, loto                      bool
	seed                             uint64
	cfg                              feature.Config
	epochs, synthetic, synthetic2    int
	planted, bag                     int
	plantedWeight                    float64
	hijack                           int
	thresholdFolds                   int
	hidden                           int
	rowBits                          uint
	lr, l2, targetFPR, targetHardFPR float64
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.StringVar(&o.data, "data", "/work/shared/data/guard", "directory of public *.jsonl datasets")
	fs.StringVar(&o.extra, "extra", "internal/guard/injection/testdata", "directory with hand-written train/ and heldout/ *.jsonl")
	fs.StringVar(&o.out, "out", "", "model file to write (required)")
	fs.StringVar(&o.heldout, "heldout", "", "if set, write held-out rows to this directory and evaluate on them")
	fs.StringVar(&o.dumpVal, "dump-val", "", "if set, write the validation rows to this directory (for error analysis)")
	fs.BoolVar(&o.curve, "curve", false, "print validation recall and FPR over thresholds")
	fs.BoolVar(&o.loto, "loto", false, "leave-one-template-out validation over the training latent templates; writes no model")
	fs.StringVar(&o.date, "date", "2026-11-22", "date recorded in the model's provenance")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for splits and shuffling")
	bits := fs.Uint("bits", 20, "log2 hash buckets")
	cmin := fs.Uint("char-min", 3, "shortest character n-gram")
	cmax := fs.Uint("char-max", 4, "longest character n-gram")
	skip := fs.Uint("skip", 3, "largest skip-bigram distance (0 disables)")
	short := fs.Uint("short-max", 4, "texts of at most this many tokens get a length feature (0 disables)")
	window := fs.Uint("window", 16, "tokens per scoring window")
	sentences := fs.Bool("sentences", false, "also score every sentence shorter than a window on its own (measured, not adopted: docs/guard-classifier.md)")
	stride := fs.Uint("stride", 4, "tokens between windows")
	fs.IntVar(&o.epochs, "epochs", 10, "training epochs")
	fs.IntVar(&o.hidden, "hidden", 0, "hidden units over the word-level features (0: linear model only)")
	fs.UintVar(&o.rowBits, "hidden-row-bits", 16, "log2 embedding rows of the hidden layer")
	fs.IntVar(&o.synthetic, "synthetic", 3000, "generated attacks (and as many generated hard benign rows) to add")
	fs.IntVar(&o.synthetic2, "synthetic2", 6000, "attacks (and as many benign rows) to add from the second generator (augment2.go)")
	fs.IntVar(&o.hijack, "hijack", 0, "overrides to join to training-split benign prompts, each with a benign twin (augment4.go; measured, not adopted)")
	fs.IntVar(&o.planted, "planted", 3000, "instructions to plant in training-split benign rows, each with a benign twin (augment3.go)")
	fs.Float64Var(&o.plantedWeight, "planted-weight", 1, "group multiplier of the planted rows and their twins")
	fs.IntVar(&o.thresholdFolds, "threshold-folds", 0, "also score the hand-written hard benign training rows out of fold (K models on the rest) and set the threshold on them and the validation rows together (0: validation rows only)")
	fs.IntVar(&o.bag, "bag", 1, "linear models trained on different shuffles whose weights are averaged (not with -hidden)")
	fs.Float64Var(&o.lr, "lr", 0.3, "AdaGrad learning rate")
	fs.Float64Var(&o.l2, "l2", 1e-5, "L2 penalty on touched weights")
	fs.Float64Var(&o.targetFPR, "target-fpr", 0.005, "false-positive rate on validation benign rows that bounds the threshold")
	fs.Float64Var(&o.targetHardFPR, "target-hard-fpr", 0.02, "false-positive rate on validation hard benign rows that bounds the threshold")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.out == "" {
		return o, errors.New("-out is required")
	}
	o.cfg = feature.Config{Bits: uint8(*bits), CharMin: uint8(*cmin), CharMax: uint8(*cmax), SkipMax: uint8(*skip), ShortMax: uint8(*short), Window: uint16(*window), Stride: uint16(*stride), Sentences: *sentences}
	if err := o.cfg.Validate(); err != nil {
		return o, err
	}
	return o, nil
}

// groupMultiplier raises the weight of the few rows that teach the hard
// cases: hand-written attacks and hard benign prompts, and WildGuard's
// adversarial-but-benign prompts.
var groupMultiplier = map[string]float64{
	"handwritten":            3,
	"handwritten_attack":     3,
	"synthetic_benign":       2,
	"synthetic_short":        2,
	"synthetic_injection":    2,
	"synthetic_jailbreak":    2,
	"benign_wildguard.jsonl": 2,
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "eval" {
		return runEval(ctx, args[1:], stdout)
	}
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	rows, err := readJSONL(o.data)
	if err != nil {
		return err
	}
	for _, sub := range []string{"train", "heldout"} {
		extra, err := readJSONL(filepath.Join(o.extra, sub))
		if err != nil {
			return err
		}
		for _, r := range extra {
			r.file = sub + "/" + r.file
		}
		rows = append(rows, extra...)
	}
	rows = append(rows, synthesize(rand.New(rand.NewPCG(o.seed, 0xa11ce)), o.synthetic)...)
	rows = append(rows, generateMore(rand.New(rand.NewPCG(o.seed, 0xb0b)), o.synthetic2)...)
	assignSplits(o.seed, rows)
	printSplits(stdout, rows)

	if o.loto {
		return runLOTO(o, rows, stdout)
	}
	rows = withPlanted(o, rows)
	params, model, threshold, err := fitModel(o, rows, stdout)
	if err != nil {
		return err
	}
	reportValidation(stdout, model, rows, threshold)
	if o.curve {
		printCurve(stdout, model, rows)
	}
	params.Meta = provenance(o, rows, threshold)
	data, err := params.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.WriteFile(o.out, data, 0o644); err != nil {
		return fmt.Errorf("writing model: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", o.out, len(data))
	if o.dumpVal != "" {
		if _, err := writeGroups(o.dumpVal, rows, splitVal); err != nil {
			return err
		}
	}
	if o.heldout == "" {
		return nil
	}
	model, err = injection.Load(data)
	if err != nil {
		return err
	}
	files, err := writeGroups(o.heldout, rows, splitTest)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nheld-out evaluation (sources, templates, languages and clusters never trained or tuned on):")
	if _, err := injection.Evaluate(ctx, model, files, 0, stdout); err != nil {
		return err
	}
	return nil
}

// fitModel trains on the rows of the training split and sets the threshold
// on the validation split (rows of lotoGroup excepted: they stand for an
// unseen template, see runLOTO).
func fitModel(o options, rows []*row, stdout io.Writer) (*feature.Params, *injection.Model, float64, error) {
	// Weight rows so that every group contributes in proportion to the
	// square root of its size, and both classes equally: thousands of
	// templated rows must not drown a few hundred varied ones.
	count := map[string]int{}
	for _, r := range rows {
		if r.split == splitTrain {
			count[r.group]++
		}
	}
	weight := func(r *row) float64 {
		m := groupMultiplier[r.group]
		if strings.HasPrefix(r.group, "synthetic_planted") {
			m = o.plantedWeight
		}
		if m == 0 {
			m = 1
		}
		return m / math.Sqrt(float64(count[r.group]))
	}
	var posW, negW float64
	var nTrain int
	for _, r := range rows {
		if r.split != splitTrain {
			continue
		}
		nTrain++
		if r.positive() {
			posW += weight(r)
		} else {
			negW += weight(r)
		}
	}
	var exp textnorm.Expander
	var buf feature.Buf
	var exs []example
	var fold []int // per example: its out-of-fold fold, or -1
	for _, r := range rows {
		if r.split != splitTrain {
			continue
		}
		f := -1
		if o.thresholdFolds > 0 && isHardBenign(r) && r.group == "handwritten" {
			// Hand-written rows never host generated rows, so a fold's
			// text cannot reach the other folds' training data.
			f = int(fnvString(r.Text) % uint64(o.thresholdFolds))
		}
		fold = append(fold, f)
		ex := example{inst: featurize(o.cfg, &exp, &buf, r.Text, o.hidden > 0)}
		if f >= 0 {
			ex.text = r.Text
		}
		w := weight(r) * float64(nTrain) / 2
		if r.positive() {
			ex.y, ex.weight = 1, float32(w/posW)
		} else {
			ex.weight = float32(w / negW)
		}
		exs = append(exs, ex)
	}
	rng := rand.New(rand.NewPCG(o.seed, o.seed^0x5eed))
	tr := newTrainer(o.cfg.Bits, o.lr, o.l2)
	if o.hidden > 0 {
		tr.withHidden(o.hidden, o.cfg.Bits, uint8(o.rowBits), rand.New(rand.NewPCG(o.seed, 0x41dde7)))
	}
	tr.fit(exs, o.epochs, rng)
	// With -bag, further linear models are trained on other shuffles and
	// their weights averaged: the same cost at inference, less variance.
	for b := 1; b < o.bag; b++ {
		other := newTrainer(o.cfg.Bits, o.lr, o.l2)
		other.fit(exs, o.epochs, rand.New(rand.NewPCG(o.seed, o.seed^0x5eed+uint64(b))))
		for i, w := range other.w {
			tr.w[i] += w
		}
		tr.bias += other.bias
	}
	if o.bag > 1 {
		for i := range tr.w {
			tr.w[i] /= float32(o.bag)
		}
		tr.bias /= float64(o.bag)
	}
	q, scale := tr.quantize()
	params := &feature.Params{Config: o.cfg, Bias: float32(tr.bias), Threshold: 0.5, Scale: scale, Weights: q, MLP: tr.quantizeHidden()}

	// The threshold is set on validation rows from the training sources,
	// scored by the real runtime code path.
	model, err := load(params)
	if err != nil {
		return nil, nil, 0, err
	}
	var negScores, posScores, hardScores []float64
	for _, r := range rows {
		if r.split != splitVal || r.heldGroup == lotoGroup {
			continue
		}
		s := model.Score(r.Text)
		switch {
		case r.positive():
			posScores = append(posScores, s)
		case isHardBenign(r):
			hardScores = append(hardScores, s)
			negScores = append(negScores, s)
		default:
			negScores = append(negScores, s)
		}
	}
	// Two constraints, both from the targets in the issue: the false-positive
	// rate over all benign validation rows, and a looser one over the hard
	// benign rows (hand-written and WildGuard), which the pooled rate would
	// otherwise hide among thousands of easy sentences.
	if o.thresholdFolds > 0 {
		oof, err := outOfFoldScores(o, exs, fold)
		if err != nil {
			return nil, nil, 0, err
		}
		fmt.Fprintf(stdout, "threshold: %d hand-written hard benign training rows scored out of fold (%d folds)\n", len(oof), o.thresholdFolds)
		hardScores = append(hardScores, oof...)
	}
	threshold := max(chooseThreshold(negScores, o.targetFPR), chooseThreshold(hardScores, o.targetHardFPR))
	params.Threshold = float32(threshold)
	fmt.Fprintf(stdout, "validation: %d benign (%d hard), %d attacks; threshold %.4f (target FPR %.3f, hard %.3f) gives FPR %.4f, hard FPR %.4f, recall %.4f\n",
		len(negScores), len(hardScores), len(posScores), threshold, o.targetFPR, o.targetHardFPR,
		rateAbove(negScores, threshold), rateAbove(hardScores, threshold), rateAbove(posScores, threshold))
	return params, model, threshold, nil
}

// plantedConfig describes the third generator's settings for the
// provenance; empty when it is off, so that older models reproduce.
func plantedConfig(o options) string {
	var s string
	if o.planted != 0 {
		s = fmt.Sprintf(" planted=%d planted-weight=%g", o.planted, o.plantedWeight)
	}
	if o.hijack != 0 {
		s += fmt.Sprintf(" hijack=%d", o.hijack)
	}
	if o.thresholdFolds != 0 {
		s += fmt.Sprintf(" threshold-folds=%d", o.thresholdFolds)
	}
	return s
}

// withPlanted appends the planted rows of the third generator, built from
// the current training split.
func withPlanted(o options, rows []*row) []*row {
	planted := plantRows(rand.New(rand.NewPCG(o.seed, 0x91a47)), rows, o.planted)
	planted = append(planted, hijackRows(rand.New(rand.NewPCG(o.seed, 0x41ac)), rows, o.hijack)...)
	return append(rows[:len(rows):len(rows)], planted...)
}

// isHardBenign reports benign rows written to look like attacks.
func isHardBenign(r *row) bool {
	return !r.positive() && (r.group == "handwritten" || r.group == "benign_wildguard.jsonl")
}

// runEval implements "train eval [-model FILE] [-threshold T] FILE.jsonl...",
// a stand-in for "bulwark guard eval" that also prints the recall at a 1%
// false-positive rate chosen on the evaluated data itself (an optimistic
// bound, labelled as such).
func runEval(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("train eval", flag.ContinueOnError)
	modelPath := fs.String("model", "", "model file (default: the embedded model)")
	threshold := fs.Float64("threshold", 0, "decision threshold (<= 0: the model's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m := injection.Default()
	if *modelPath != "" {
		data, err := os.ReadFile(*modelPath)
		if err != nil {
			return fmt.Errorf("reading model: %w", err)
		}
		if m, err = injection.Load(data); err != nil {
			return err
		}
	}
	if _, err := injection.Evaluate(ctx, m, fs.Args(), *threshold, stdout); err != nil {
		return err
	}
	var pos, neg []float64
	for _, name := range fs.Args() {
		rows, err := readFile(name)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if s := m.Score(r.Text); r.positive() {
				pos = append(pos, s)
			} else {
				neg = append(neg, s)
			}
		}
	}
	if len(pos) > 0 && len(neg) > 0 {
		t := chooseThreshold(neg, 0.01)
		fmt.Fprintf(stdout, "oracle: at threshold %.4f (set on this data for FPR <= 1%%) recall %.4f, FPR %.4f\n", t, rateAbove(pos, t), rateAbove(neg, t))
	}
	return nil
}

func load(p *feature.Params) (*injection.Model, error) {
	data, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return injection.Load(data)
}

// chooseThreshold returns the lowest threshold at which at most targetFPR of
// the benign validation scores reach it.
func chooseThreshold(neg []float64, targetFPR float64) float64 {
	s := slices.Clone(neg)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	k := int(targetFPR * float64(len(s)))
	if k >= len(s) {
		return 0.5
	}
	t := math.Nextafter(s[k], 2)
	return min(max(t, 0.05), 0.95)
}

func rateAbove(scores []float64, t float64) float64 {
	n := 0
	for _, s := range scores {
		if s >= t {
			n++
		}
	}
	if len(scores) == 0 {
		return 0
	}
	return float64(n) / float64(len(scores))
}

func printSplits(w io.Writer, rows []*row) {
	type key struct{ group, split string }
	counts := map[key]int{}
	names := []string{"train", "val", "test", "drop"}
	for _, r := range rows {
		g := r.group
		if r.split == splitTest {
			g = r.heldGroup
		}
		counts[key{g + " (" + r.Label + ")", names[r.split]}]++
	}
	var keys []key
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.group+a.split, b.group+b.split) })
	for _, k := range keys {
		if k.split != "drop" {
			fmt.Fprintf(w, "%-6s %6d  %s\n", k.split, counts[k], k.group)
		}
	}
}

// provenance records what the model was trained on, for MODEL.md and for
// anyone holding only the binary.
func provenance(o options, rows []*row, threshold float64) string {
	licenses := map[string]map[string]bool{}
	trainRows := map[string]int{}
	for _, r := range rows {
		if r.split != splitTrain && r.split != splitVal {
			continue
		}
		trainRows[r.file]++
		if licenses[r.file] == nil {
			licenses[r.file] = map[string]bool{}
		}
		licenses[r.file][r.License] = true
	}
	var files []string
	for f := range trainRows {
		files = append(files, f)
	}
	sort.Strings(files)
	var b strings.Builder
	fmt.Fprintf(&b, "bulwark prompt-injection classifier, trained %s\n", o.date)
	// Paths are left out so that the same data gives the same bytes
	// wherever it lives.
	fmt.Fprintf(&b, "command: go run ./internal/guard/injection/train -data DIR -out FILE -seed %d\n", o.seed)
	fmt.Fprintf(&b, "config: %s epochs=%d hidden=%d row-bits=%d lr=%g l2=%g synthetic=%d synthetic2=%d%s target-fpr=%g target-hard-fpr=%g threshold=%.4f\n", configString(o.cfg), o.epochs, o.hidden, o.rowBits, o.lr, o.l2, o.synthetic, o.synthetic2, plantedConfig(o), o.targetFPR, o.targetHardFPR, threshold)
	for _, f := range files {
		var ls []string
		for l := range licenses[f] {
			ls = append(ls, l)
		}
		sort.Strings(ls)
		fmt.Fprintf(&b, "data: %s rows=%d license=%s\n", f, trainRows[f], strings.Join(ls, " | "))
	}
	return b.String()
}

// writeGroups writes each held-out or validation group of split sp as JSONL
// and returns the paths.
func writeGroups(dir string, rows []*row, sp split) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("writing held-out data: %w", err)
	}
	byGroup := map[string][]*row{}
	for _, r := range rows {
		if r.split == sp {
			byGroup[r.heldGroup] = append(byGroup[r.heldGroup], r)
		}
	}
	var files []string
	for g, rs := range byGroup {
		name := filepath.Join(dir, g+".jsonl")
		f, err := os.Create(name)
		if err != nil {
			return nil, fmt.Errorf("writing held-out data: %w", err)
		}
		enc := json.NewEncoder(f)
		for _, r := range rs {
			if err := enc.Encode(r); err != nil {
				f.Close()
				return nil, fmt.Errorf("writing %s: %w", name, err)
			}
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		files = append(files, name)
	}
	sort.Strings(files)
	return files, nil
}

// reportValidation prints recall or FPR per validation group at threshold.
func reportValidation(w io.Writer, m *injection.Model, rows []*row, threshold float64) {
	type acc struct{ n, flagged int }
	groups := map[string]*acc{}
	for _, r := range rows {
		if r.split != splitVal {
			continue
		}
		a := groups[r.heldGroup]
		if a == nil {
			a = &acc{}
			groups[r.heldGroup] = a
		}
		a.n++
		if m.Score(r.Text) >= threshold {
			a.flagged++
		}
	}
	for _, g := range sortedKeys(groups) {
		fmt.Fprintf(w, "  %-40s n=%5d flagged=%.4f\n", g, groups[g].n, float64(groups[g].flagged)/float64(groups[g].n))
	}
}

// printCurve prints validation recall, FPR and hard-benign FPR (hand-written
// and WildGuard rows) over a range of thresholds.
func printCurve(w io.Writer, m *injection.Model, rows []*row) {
	var pos, neg, hard []float64
	for _, r := range rows {
		if r.split != splitVal {
			continue
		}
		s := m.Score(r.Text)
		switch {
		case r.positive():
			pos = append(pos, s)
		case isHardBenign(r):
			hard = append(hard, s)
			neg = append(neg, s)
		default:
			neg = append(neg, s)
		}
	}
	for t := 0.3; t < 0.96; t += 0.05 {
		fmt.Fprintf(w, "  t=%.2f recall=%.4f fpr=%.4f hard-fpr=%.4f\n", t, rateAbove(pos, t), rateAbove(neg, t), rateAbove(hard, t))
	}
}

// configString prints c as models before Config.Sentences recorded it, so
// that a model trained without sentence windows reproduces byte for byte.
func configString(c feature.Config) string {
	s := fmt.Sprintf("{Bits:%d CharMin:%d CharMax:%d SkipMax:%d ShortMax:%d Window:%d Stride:%d", c.Bits, c.CharMin, c.CharMax, c.SkipMax, c.ShortMax, c.Window, c.Stride)
	if c.Sentences {
		s += " Sentences:true"
	}
	return s + "}"
}

// outOfFoldScores trains one linear model per fold on every training
// example outside it, and scores the fold's rows (fold[i] == k) with it.
// The threshold rule otherwise rests on about 120 hard benign validation
// rows, so that two or three of them decide it and it moves by ±0.2
// between seeds.
func outOfFoldScores(o options, exs []example, fold []int) ([]float64, error) {
	var scores []float64
	for k := range o.thresholdFolds {
		var train []example
		for i, ex := range exs {
			if fold[i] != k {
				train = append(train, ex)
			}
		}
		tr := newTrainer(o.cfg.Bits, o.lr, o.l2)
		tr.fit(train, o.epochs, rand.New(rand.NewPCG(o.seed, o.seed^0x5eed+uint64(k)+1)))
		q, scale := tr.quantize()
		m, err := load(&feature.Params{Config: o.cfg, Bias: float32(tr.bias), Threshold: 0.5, Scale: scale, Weights: q})
		if err != nil {
			return nil, err
		}
		for i, ex := range exs {
			if fold[i] == k {
				scores = append(scores, m.Score(ex.text))
			}
		}
	}
	return scores, nil
}

// fnvString is FNV-1a over s: a stable fold assignment.
func fnvString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
