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
}

// scratch is the per-call working memory of Score, pooled so that scoring a
// prompt does not allocate in the steady state.
type scratch struct {
	exp  textnorm.Expander
	buf  feature.Buf
	sums []int64 // prefix sums of token weights
	wins []feature.Span
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
	return &Model{
		cfg:       p.Config,
		weights:   p.Weights,
		scale:     float64(p.Scale),
		bias:      float64(p.Bias),
		threshold: float64(p.Threshold),
		meta:      p.Meta,
	}
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
	sc.wins = m.cfg.Windows(sc.wins[:0], ntok)
	best := math.Inf(-1)
	for _, w := range sc.wins {
		n := sc.buf.TokEnd[w.End-1]
		if w.Start > 0 {
			n -= sc.buf.TokEnd[w.Start-1]
		}
		z := float64(sc.sums[w.End]-sc.sums[w.Start])*m.scale/math.Sqrt(float64(n)) + m.bias
		best = max(best, z)
	}
	return sigmoid(best)
}

func sigmoid(z float64) float64 {
	return 1 / (1 + math.Exp(-z))
}
