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
	idx     []uint32
	tokEnd  []int32
	wordEnd []int32
	wins    []feature.Span
}

// example is a training bag: the model scores the maximum over the windows
// of all its variants, so training updates on that same maximum.
type example struct {
	inst   []instance
	y      float32
	weight float32
	text   string // kept only for rows scored out of fold
}

// featurize expands and extracts features exactly as Model.Score does.
func featurize(cfg feature.Config, exp *textnorm.Expander, buf *feature.Buf, text string, hidden bool) []instance {
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
		if hidden {
			in.wordEnd = append([]int32(nil), buf.WordEnd...)
		}
		in.wins = cfg.Windows(nil, len(in.tokEnd), buf.Breaks)
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

// trainer fits logistic regression, optionally with a hidden layer added
// to the logit (see feature.MLP), with AdaGrad and L2 on touched weights.
type trainer struct {
	w, g     []float32
	bias, gb float64
	lr, l2   float64
	sums     []float64

	// Hidden layer: h units, embedding rows indexed by feature >> shift.
	h          int
	shift      uint32
	rowBits    uint8
	e, ge      []float32
	hb, ghb    []float64
	out, gout  []float64
	hsums, act []float64
}

func newTrainer(bits uint8, lr, l2 float64) *trainer {
	n := 1 << bits
	return &trainer{w: make([]float32, n), g: make([]float32, n), lr: lr, l2: l2}
}

// withHidden adds a hidden layer of h units over 1<<rowBits embedding rows,
// initialised from rng.
func (t *trainer) withHidden(h int, bits, rowBits uint8, rng *rand.Rand) *trainer {
	t.h, t.rowBits, t.shift = h, rowBits, uint32(bits-rowBits)
	n := h << rowBits
	t.e, t.ge = make([]float32, n), make([]float32, n)
	for i := range t.e {
		t.e[i] = float32((rng.Float64()*2 - 1) * 0.05)
	}
	t.hb, t.ghb = make([]float64, h), make([]float64, h)
	t.out, t.gout = make([]float64, h), make([]float64, h)
	for j := range t.out {
		t.hb[j] = 0.01
		t.out[j] = (rng.Float64()*2 - 1) * 0.1
	}
	t.act = make([]float64, h)
	return t
}

// wordFeatures appends the word-level features of span s.
func (in *instance) wordFeatures(dst []uint32, s feature.Span) []uint32 {
	for k := s.Start; k < s.End; k++ {
		lo := int32(0)
		if k > 0 {
			lo = in.tokEnd[k-1]
		}
		dst = append(dst, in.idx[lo:in.wordEnd[k]]...)
	}
	return dst
}

// windowZ returns the logit of span s of in, leaving the hidden layer's
// pre-activations in t.act.
func (t *trainer) windowZ(in *instance, s feature.Span, wf []uint32) float64 {
	f := in.window(s)
	z := t.logit(f)
	if t.h == 0 {
		return z
	}
	inv := 1 / math.Sqrt(float64(len(f)))
	for j := range t.act {
		t.act[j] = 0
	}
	for _, i := range wf {
		row := t.e[int(i>>t.shift)*t.h:][:t.h]
		for j, v := range row {
			t.act[j] += float64(v)
		}
	}
	for j := range t.act {
		t.act[j] = t.act[j]*inv + t.hb[j]
		if t.act[j] > 0 {
			z += t.out[j] * t.act[j]
		}
	}
	return z
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
func (t *trainer) best(ex *example) (int, feature.Span) {
	bestK, bestS := 0, feature.Span{}
	bestZ := math.Inf(-1)
	h := t.h
	for k := range ex.inst {
		in := &ex.inst[k]
		t.sums = append(t.sums[:0], 0)
		if h > 0 {
			t.hsums = append(t.hsums[:0], make([]float64, h)...)
		}
		acc, lo := 0.0, int32(0)
		for tok, hi := range in.tokEnd {
			for _, i := range in.idx[lo:hi] {
				acc += float64(t.w[i])
			}
			t.sums = append(t.sums, acc)
			if h > 0 {
				base := len(t.hsums)
				t.hsums = append(t.hsums, t.hsums[base-h:base]...)
				cur := t.hsums[base:]
				for _, i := range in.idx[lo:in.wordEnd[tok]] {
					row := t.e[int(i>>t.shift)*h:][:h]
					for j, v := range row {
						cur[j] += float64(v)
					}
				}
			}
			lo = hi
		}
		for _, s := range in.wins {
			f := in.window(s)
			inv := 1 / math.Sqrt(float64(len(f)))
			z := (t.sums[s.End]-t.sums[s.Start])*inv + t.bias
			for j := 0; j < h; j++ {
				if a := (t.hsums[s.End*h+j]-t.hsums[s.Start*h+j])*inv + t.hb[j]; a > 0 {
					z += t.out[j] * a
				}
			}
			if z > bestZ {
				bestZ, bestK, bestS = z, k, s
			}
		}
	}
	return bestK, bestS
}

// step takes one AdaGrad step on span s of in.
func (t *trainer) step(in *instance, s feature.Span, y, weight float32, wf []uint32) []uint32 {
	f := in.window(s)
	if t.h > 0 {
		wf = in.wordFeatures(wf[:0], s)
	}
	z := t.windowZ(in, s, wf)
	p := 1 / (1 + math.Exp(-z))
	d := (p - float64(y)) * float64(weight)
	inv := 1 / math.Sqrt(float64(len(f)))
	gf := d * inv
	for _, i := range f {
		g := gf + t.l2*float64(t.w[i])
		t.g[i] += float32(g * g)
		t.w[i] -= float32(t.lr * g / (math.Sqrt(float64(t.g[i])) + 1e-8))
	}
	t.gb += d * d
	t.bias -= t.lr * d / (math.Sqrt(t.gb) + 1e-8)
	for j := 0; j < t.h; j++ {
		a := t.act[j]
		if a <= 0 {
			continue
		}
		// Gradients before any update of this step.
		gOut := d * a
		gA := d * t.out[j]
		t.gout[j] += gOut * gOut
		t.out[j] -= t.lr * gOut / (math.Sqrt(t.gout[j]) + 1e-8)
		t.ghb[j] += gA * gA
		t.hb[j] -= t.lr * gA / (math.Sqrt(t.ghb[j]) + 1e-8)
		ge := gA * inv
		for _, i := range wf {
			k := int(i>>t.shift)*t.h + j
			g := ge + t.l2*float64(t.e[k])
			t.ge[k] += float32(g * g)
			t.e[k] -= float32(t.lr * g / (math.Sqrt(float64(t.ge[k])) + 1e-8))
		}
	}
	return wf
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
	var wf []uint32
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
					wf = t.step(in, in.wins[k*len(in.wins)/n], ex.y, ex.weight/float32(n), wf)
				}
				continue
			}
			k, s := t.best(ex)
			wf = t.step(&ex.inst[k], s, ex.y, ex.weight, wf)
		}
	}
}

// quantizeHidden converts the hidden layer for the model file.
func (t *trainer) quantizeHidden() *feature.MLP {
	if t.h == 0 {
		return nil
	}
	var maxAbs float64
	for _, w := range t.e {
		maxAbs = max(maxAbs, math.Abs(float64(w)))
	}
	if maxAbs == 0 {
		maxAbs = 1
	}
	scale := maxAbs / 32767
	m := &feature.MLP{Hidden: uint8(t.h), RowBits: t.rowBits, EmbedScale: float32(scale), Embed: make([]int16, len(t.e))}
	for i, w := range t.e {
		m.Embed[i] = int16(math.Round(float64(w) / scale))
	}
	for j := range t.h {
		m.HiddenBias = append(m.HiddenBias, float32(t.hb[j]))
		m.Out = append(m.Out, float32(t.out[j]))
	}
	return m
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
