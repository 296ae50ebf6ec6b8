// SPDX-License-Identifier: Apache-2.0

package main

import (
	"math"
	"math/rand/v2"

	"github.com/bulwarkai/bulwark/internal/guard/injection/internal/feature"
	"github.com/bulwarkai/bulwark/internal/guard/injection/internal/textnorm"
)

// instance is one normalised variant of an example, with its windows.
type instance struct {
	idx    []uint32
	tokEnd []int32
	wins   []feature.Span
}

// example is a training bag: the model scores the maximum over the windows
// of all its variants, so training updates on that same maximum.
type example struct {
	inst   []instance
	y      float32
	weight float32
}

// featurize expands and extracts features exactly as Model.Score does.
func featurize(cfg feature.Config, exp *textnorm.Expander, buf *feature.Buf, text string) []instance {
	var out []instance
	for _, v := range exp.Expand(text) {
		cfg.Extract(buf, v)
		if len(buf.TokEnd) == 0 {
			continue
		}
		in := instance{
			idx:    append([]uint32(nil), buf.Idx...),
			tokEnd: append([]int32(nil), buf.TokEnd...),
		}
		in.wins = cfg.Windows(nil, len(in.tokEnd))
		out = append(out, in)
	}
	return out
}

// window returns the feature indices of span s and their count.
func (in *instance) window(s feature.Span) []uint32 {
	lo := int32(0)
	if s.Start > 0 {
		lo = in.tokEnd[s.Start-1]
	}
	return in.idx[lo:in.tokEnd[s.End-1]]
}

// trainer fits logistic regression with AdaGrad and L2 on touched weights.
type trainer struct {
	w, g     []float32
	bias, gb float64
	lr, l2   float64
	sums     []float64
}

func newTrainer(bits uint8, lr, l2 float64) *trainer {
	n := 1 << bits
	return &trainer{w: make([]float32, n), g: make([]float32, n), lr: lr, l2: l2}
}

// logit is the model output for a window's features.
func (t *trainer) logit(f []uint32) float64 {
	var s float64
	for _, i := range f {
		s += float64(t.w[i])
	}
	return s/math.Sqrt(float64(len(f))) + t.bias
}

// best returns the highest-scoring window of the bag, computed with prefix
// sums as at inference.
func (t *trainer) best(ex *example) ([]uint32, float64) {
	var bestF []uint32
	bestZ := math.Inf(-1)
	for k := range ex.inst {
		in := &ex.inst[k]
		t.sums = append(t.sums[:0], 0)
		acc, lo := 0.0, int32(0)
		for _, hi := range in.tokEnd {
			for _, i := range in.idx[lo:hi] {
				acc += float64(t.w[i])
			}
			t.sums = append(t.sums, acc)
			lo = hi
		}
		for _, s := range in.wins {
			f := in.window(s)
			z := (t.sums[s.End]-t.sums[s.Start])/math.Sqrt(float64(len(f))) + t.bias
			if z > bestZ {
				bestZ, bestF = z, f
			}
		}
	}
	return bestF, bestZ
}

// step takes one AdaGrad step on a window.
func (t *trainer) step(f []uint32, z float64, y, weight float32) {
	p := 1 / (1 + math.Exp(-z))
	d := (p - float64(y)) * float64(weight)
	gf := d / math.Sqrt(float64(len(f)))
	for _, i := range f {
		g := gf + t.l2*float64(t.w[i])
		t.g[i] += float32(g * g)
		t.w[i] -= float32(t.lr * g / (math.Sqrt(float64(t.g[i])) + 1e-8))
	}
	t.gb += d * d
	t.bias -= t.lr * d / (math.Sqrt(t.gb) + 1e-8)
}

// fit trains for the given epochs. The first epoch updates on every window
// (capped) with the bag's label, to start from a sensible point; later
// epochs update on the highest-scoring window only (multiple-instance
// learning with max pooling), which is what Score computes.
func (t *trainer) fit(exs []example, epochs int, rng *rand.Rand) {
	order := make([]int, len(exs))
	for i := range order {
		order[i] = i
	}
	for epoch := range epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			ex := &exs[i]
			if len(ex.inst) == 0 {
				continue
			}
			if epoch == 0 {
				in := &ex.inst[0]
				n := min(len(in.wins), 4)
				for k := range n {
					s := in.wins[k*len(in.wins)/n]
					f := in.window(s)
					t.step(f, t.logit(f), ex.y, ex.weight/float32(n))
				}
				continue
			}
			f, z := t.best(ex)
			t.step(f, z, ex.y, ex.weight)
		}
	}
}

// quantize converts the weights to int16 with a shared scale.
func (t *trainer) quantize() ([]int16, float32) {
	var maxAbs float64
	for _, w := range t.w {
		maxAbs = max(maxAbs, math.Abs(float64(w)))
	}
	if maxAbs == 0 {
		maxAbs = 1
	}
	scale := maxAbs / 32767
	q := make([]int16, len(t.w))
	for i, w := range t.w {
		q[i] = int16(math.Round(float64(w) / scale))
	}
	return q, float32(scale)
}
