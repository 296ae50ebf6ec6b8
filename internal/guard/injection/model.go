// SPDX-License-Identifier: Apache-2.0

package injection

import (
	_ "embed"
	"fmt"
	"math"
	"sync"

	"github.com/bulwarkai/bulwark/internal/guard/injection/internal/feature"
	"github.com/bulwarkai/bulwark/internal/guard/injection/internal/textnorm"
)

// Model is an immutable trained classifier, safe for concurrent use.
type Model struct {
	cfg       feature.Config
	weights   []int16
	scale     float64
	bias      float64
	threshold float64
	meta      string
	pool      sync.Pool // *scratch

	// The optional hidden layer (feature.MLP); hidden is 0 without one.
	hidden   int
	rowShift uint32
	embed    []int16
	escale   float64
	hbias    []float64
	out      []float64
}

// scratch is the per-call working memory of Score, pooled so that scoring a
// prompt does not allocate in the steady state.
type scratch struct {
	exp  textnorm.Expander
	buf  feature.Buf
	sums []int64 // prefix sums of token weights
	// hsums holds prefix sums of the hidden layer's embedding rows, hidden
	// per token. int32 arithmetic wraps, and a window's difference is exact
	// as long as the window's own sum fits, which it does by far.
	hsums []int32
	wins  []feature.Span
}

//go:embed model.bin
var defaultModel []byte

var loadDefault = sync.OnceValue(func() *Model { return mustLoad(defaultModel) })

// mustLoad is Load for the embedded model. The file is embedded at build
// time and covered by tests, so a failure is a broken build, not a runtime
// condition for callers to handle.
func mustLoad(data []byte) *Model {
	m, err := Load(data)
	if err != nil {
		panic(fmt.Sprintf("injection: embedded model: %v", err))
	}
	return m
}

// Default returns the model embedded in the binary (go:embed of the
// committed model file). It panics only if the embedded file is corrupt,
// which the package tests rule out. The model is parsed once.
func Default() *Model { return loadDefault() }

// Load parses a model file produced by the trainer.
func Load(data []byte) (*Model, error) {
	p, err := feature.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("loading injection model: %w", err)
	}
	return newModel(p), nil
}

func newModel(p *feature.Params) *Model {
	m := &Model{
		cfg:       p.Config,
		weights:   p.Weights,
		scale:     float64(p.Scale),
		bias:      float64(p.Bias),
		threshold: float64(p.Threshold),
		meta:      p.Meta,
	}
	if h := p.MLP; h != nil {
		m.hidden = int(h.Hidden)
		m.rowShift = uint32(p.Bits - h.RowBits)
		m.embed = h.Embed
		m.escale = float64(h.EmbedScale)
		for j := range m.hidden {
			m.hbias = append(m.hbias, float64(h.HiddenBias[j]))
			m.out = append(m.out, float64(h.Out[j]))
		}
	}
	return m
}

// Threshold is the decision threshold chosen at training time: the lowest
// probability at which the false-positive rate on the trainer's validation
// split of benign data stays within its target (see docs/guard-classifier.md).
func (m *Model) Threshold() float64 { return m.threshold }

// Score returns the attack probability in [0,1] for text, after
// normalisation and decoding of embedded payloads: the maximum over the
// variants and over the scoring windows of each.
func (m *Model) Score(text string) float64 {
	sc, _ := m.pool.Get().(*scratch)
	if sc == nil {
		sc = new(scratch)
	}
	best := 0.0
	for _, v := range sc.exp.Expand(text) {
		best = max(best, m.scoreNormalized(sc, v))
	}
	m.pool.Put(sc)
	return best
}

// scoreNormalized scores one normalised variant: the best window's
// probability, or 0 for text without tokens.
func (m *Model) scoreNormalized(sc *scratch, text []byte) float64 {
	m.cfg.Extract(&sc.buf, text)
	ntok := len(sc.buf.TokEnd)
	if ntok == 0 {
		return 0
	}
	sc.sums = append(sc.sums[:0], 0)
	var acc int64
	for t, lo := 0, int32(0); t < ntok; t++ {
		hi := sc.buf.TokEnd[t]
		for _, idx := range sc.buf.Idx[lo:hi] {
			acc += int64(m.weights[idx])
		}
		sc.sums = append(sc.sums, acc)
		lo = hi
	}
	if m.hidden > 0 {
		m.hiddenSums(sc, ntok)
	}
	sc.wins = m.cfg.Windows(sc.wins[:0], ntok, sc.buf.Breaks)
	best := math.Inf(-1)
	for _, w := range sc.wins {
		n := sc.buf.TokEnd[w.End-1]
		if w.Start > 0 {
			n -= sc.buf.TokEnd[w.Start-1]
		}
		inv := 1 / math.Sqrt(float64(n))
		z := float64(sc.sums[w.End]-sc.sums[w.Start])*m.scale*inv + m.bias
		if h := m.hidden; h > 0 {
			s0, s1 := sc.hsums[w.Start*h:w.Start*h+h], sc.hsums[w.End*h:w.End*h+h]
			es := m.escale * inv
			for j, b := range m.hbias {
				if a := float64(s1[j]-s0[j])*es + b; a > 0 {
					z += m.out[j] * a
				}
			}
		}
		best = max(best, z)
	}
	return sigmoid(best)
}

// hiddenSums fills sc.hsums with the prefix sums, token by token, of the
// embedding rows of the word-level features.
func (m *Model) hiddenSums(sc *scratch, ntok int) {
	h := m.hidden
	need := (ntok + 1) * h
	if cap(sc.hsums) < need {
		sc.hsums = make([]int32, need)
	}
	sc.hsums = sc.hsums[:need]
	clear(sc.hsums[:h])
	lo := int32(0)
	for t := range ntok {
		cur := sc.hsums[(t+1)*h : (t+2)*h]
		copy(cur, sc.hsums[t*h:(t+1)*h])
		for _, idx := range sc.buf.Idx[lo:sc.buf.WordEnd[t]] {
			r := int(idx>>m.rowShift) * h
			row := m.embed[r : r+h]
			for j := range cur {
				cur[j] += int32(row[j])
			}
		}
		lo = sc.buf.TokEnd[t]
	}
}

func sigmoid(z float64) float64 {
	return 1 / (1 + math.Exp(-z))
}
