// SPDX-License-Identifier: Apache-2.0

package feature

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
)

// Params is a trained model as stored on disk.
//
// File layout (little-endian): magic "BWINJ1\n\x00", Config (Bits, CharMin,
// CharMax: 1 byte each; SkipMax in the low three bits, Sentences in bit 3
// and ShortMax in the high nibble of 1 byte; Window, Stride: 2 bytes each),
// Bias, Threshold,
// Scale (float32 each), the length of the metadata, the metadata (free-form
// UTF-8 provenance), the DEFLATE-compressed weights (int16 each, 1<<Bits of
// them), and a CRC-32 (IEEE) of everything before it. Weights are quantised
// to int16 because a float32 table would double the binary size for no
// measurable gain in accuracy; most buckets are zero and compress away.
type Params struct {
	Config
	// Bias is the intercept in logits.
	Bias float32
	// Threshold is the decision threshold on the probability.
	Threshold float32
	// Scale converts a quantised weight to logits: w = Weights[i] * Scale.
	Scale float32
	// Meta is provenance text (training data, date, command).
	Meta string
	// Weights has 1<<Bits entries.
	Weights []int16
	// MLP is the optional hidden layer; nil for a purely linear model.
	MLP *MLP
}

// MLP is a hidden layer added to the linear model's window logit:
//
//	a_j = HiddenBias[j] + EmbedScale * Σ_f Embed[row(f)*Hidden+j] / √n
//	logit += Σ_j Out[j] * max(a_j, 0)
//
// over the word-level features f of the window (Buf.WordEnd), where n is the
// window's feature count, as for the linear part, and row(f) = f >> (Bits -
// RowBits) shares each embedding row among 1<<(Bits-RowBits) buckets.
type MLP struct {
	// Hidden is the number of hidden units, RowBits log2 of the rows.
	Hidden, RowBits uint8
	// EmbedScale converts a quantised embedding entry to a float.
	EmbedScale float32
	// Embed has (1<<RowBits)*Hidden entries, row-major.
	Embed []int16
	// HiddenBias and Out have Hidden entries.
	HiddenBias, Out []float32
}

// magic marks a linear model; magicMLP one with a hidden layer, whose
// header has 8 more bytes after the scale (Hidden, RowBits, two zero bytes,
// EmbedScale) and whose compressed block holds, after the weights, the
// embedding (int16) and the hidden biases and output weights (float32).
var (
	magic    = []byte("BWINJ1\n\x00")
	magicMLP = []byte("BWINJ2\n\x00")
)

// sentenceBit is Config.Sentences, stored in the byte of SkipMax (at most 4,
// so three bits), which older files leave zero.
const sentenceBit = 0x08

// errCorrupt marks a model file that cannot be used.
var errCorrupt = errors.New("corrupt model file")

func errorf(format string, args ...any) error {
	return fmt.Errorf("feature config: "+format, args...)
}

// MarshalBinary encodes p in the model file format.
func (p *Params) MarshalBinary() ([]byte, error) {
	if err := p.Config.Validate(); err != nil {
		return nil, err
	}
	if len(p.Weights) != 1<<p.Bits {
		return nil, fmt.Errorf("encoding model: %d weights, want %d", len(p.Weights), 1<<p.Bits)
	}
	if m := p.MLP; m != nil {
		if err := m.validate(p.Bits); err != nil {
			return nil, err
		}
		if len(m.Embed) != int(m.Hidden)<<m.RowBits || len(m.HiddenBias) != int(m.Hidden) || len(m.Out) != int(m.Hidden) {
			return nil, fmt.Errorf("encoding model: hidden layer sizes do not match %d units, %d row bits", m.Hidden, m.RowBits)
		}
	}
	var buf bytes.Buffer
	if p.MLP != nil {
		buf.Write(magicMLP)
	} else {
		buf.Write(magic)
	}
	var sent byte
	if p.Sentences {
		sent = sentenceBit
	}
	buf.Write([]byte{p.Bits, p.CharMin, p.CharMax, p.SkipMax | sent | p.ShortMax<<4})
	le := binary.LittleEndian
	buf.Write(le.AppendUint16(nil, p.Window))
	buf.Write(le.AppendUint16(nil, p.Stride))
	for _, f := range []float32{p.Bias, p.Threshold, p.Scale} {
		buf.Write(le.AppendUint32(nil, math.Float32bits(f)))
	}
	if m := p.MLP; m != nil {
		buf.Write([]byte{m.Hidden, m.RowBits, 0, 0})
		buf.Write(le.AppendUint32(nil, math.Float32bits(m.EmbedScale)))
	}
	buf.Write(le.AppendUint32(nil, uint32(len(p.Meta))))
	buf.WriteString(p.Meta)
	zw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("encoding model: %w", err)
	}
	raw := make([]byte, 2*len(p.Weights))
	for i, w := range p.Weights {
		le.PutUint16(raw[2*i:], uint16(w))
	}
	if m := p.MLP; m != nil {
		for _, e := range m.Embed {
			raw = le.AppendUint16(raw, uint16(e))
		}
		for _, f := range append(slices.Clone(m.HiddenBias), m.Out...) {
			raw = le.AppendUint32(raw, math.Float32bits(f))
		}
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("encoding model: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("encoding model: %w", err)
	}
	buf.Write(le.AppendUint32(nil, crc32.ChecksumIEEE(buf.Bytes())))
	return buf.Bytes(), nil
}

// Parse decodes a model file. It checks the checksum and every field, so a
// truncated or tampered file is an error rather than a silently bad model.
func Parse(data []byte) (*Params, error) {
	fixed := 8 + 4 + 4 + 12 + 4
	hasMLP := len(data) >= 8 && bytes.Equal(data[:8], magicMLP)
	if hasMLP {
		fixed += 8
	}
	if len(data) < fixed+4 || !hasMLP && !bytes.Equal(data[:8], magic) {
		return nil, fmt.Errorf("%w: bad magic or too short", errCorrupt)
	}
	le := binary.LittleEndian
	body, sum := data[:len(data)-4], le.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	p := &Params{}
	p.Bits, p.CharMin, p.CharMax = body[8], body[9], body[10]
	p.SkipMax, p.Sentences, p.ShortMax = body[11]&0x07, body[11]&sentenceBit != 0, body[11]>>4
	p.Window, p.Stride = le.Uint16(body[12:]), le.Uint16(body[14:])
	p.Bias = math.Float32frombits(le.Uint32(body[16:]))
	p.Threshold = math.Float32frombits(le.Uint32(body[20:]))
	p.Scale = math.Float32frombits(le.Uint32(body[24:]))
	metaLen := int(le.Uint32(body[fixed-4:]))
	var m *MLP
	if hasMLP {
		m = &MLP{Hidden: body[28], RowBits: body[29], EmbedScale: math.Float32frombits(le.Uint32(body[32:]))}
		if err := m.validate(p.Bits); err != nil {
			return nil, fmt.Errorf("%w: %w", errCorrupt, err)
		}
		if f := float64(m.EmbedScale); math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
			return nil, fmt.Errorf("%w: embedding scale %v out of range", errCorrupt, m.EmbedScale)
		}
	}
	if err := p.Config.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	for name, f := range map[string]float32{"bias": p.Bias, "threshold": p.Threshold, "scale": p.Scale} {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, fmt.Errorf("%w: %s is not finite", errCorrupt, name)
		}
	}
	if p.Threshold <= 0 || p.Threshold >= 1 || p.Scale <= 0 {
		return nil, fmt.Errorf("%w: threshold %v or scale %v out of range", errCorrupt, p.Threshold, p.Scale)
	}
	if metaLen > len(body)-fixed {
		return nil, fmt.Errorf("%w: metadata length %d exceeds file", errCorrupt, metaLen)
	}
	p.Meta = string(body[fixed : fixed+metaLen])
	want := 2 << p.Bits
	if m != nil {
		want += 2*int(m.Hidden)<<m.RowBits + 8*int(m.Hidden)
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(body[fixed+metaLen:])), int64(want)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: weights: %w", errCorrupt, err)
	}
	if len(raw) != want {
		return nil, fmt.Errorf("%w: %d weight bytes, want %d", errCorrupt, len(raw), want)
	}
	p.Weights = make([]int16, 1<<p.Bits)
	for i := range p.Weights {
		p.Weights[i] = int16(le.Uint16(raw[2*i:]))
	}
	if m != nil {
		raw = raw[2<<p.Bits:]
		m.Embed = make([]int16, int(m.Hidden)<<m.RowBits)
		for i := range m.Embed {
			m.Embed[i] = int16(le.Uint16(raw[2*i:]))
		}
		raw = raw[2*len(m.Embed):]
		m.HiddenBias, m.Out = make([]float32, m.Hidden), make([]float32, m.Hidden)
		for i := range int(m.Hidden) {
			m.HiddenBias[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
			m.Out[i] = math.Float32frombits(le.Uint32(raw[4*(int(m.Hidden)+i):]))
		}
		for _, f := range append(slices.Clone(m.HiddenBias), m.Out...) {
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return nil, fmt.Errorf("%w: hidden layer weight is not finite", errCorrupt)
			}
		}
		p.MLP = m
	}
	return p, nil
}

// validate checks the hidden layer's shape against a table of 1<<bits.
func (m *MLP) validate(bits uint8) error {
	switch {
	case m.Hidden < 1 || m.Hidden > 128:
		return errorf("hidden units %d out of range [1,128]", m.Hidden)
	case m.RowBits < 8 || m.RowBits > bits || m.RowBits > 20:
		return errorf("hidden-layer row bits %d out of range [8,min(%d,20)]", m.RowBits, bits)
	}
	return nil
}
