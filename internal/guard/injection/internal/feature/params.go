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
)

// Params is a trained model as stored on disk.
//
// File layout (little-endian): magic "BWINJ1\n\x00", Config (Bits, CharMin,
// CharMax, SkipMax: 1 byte each; Window, Stride: 2 bytes each), Bias, Threshold,
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
}

var magic = []byte("BWINJ1\n\x00")

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
	var buf bytes.Buffer
	buf.Write(magic)
	buf.Write([]byte{p.Bits, p.CharMin, p.CharMax, p.SkipMax})
	le := binary.LittleEndian
	buf.Write(le.AppendUint16(nil, p.Window))
	buf.Write(le.AppendUint16(nil, p.Stride))
	for _, f := range []float32{p.Bias, p.Threshold, p.Scale} {
		buf.Write(le.AppendUint32(nil, math.Float32bits(f)))
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
	const fixed = 8 + 4 + 4 + 12 + 4
	if len(data) < fixed+4 || !bytes.Equal(data[:8], magic) {
		return nil, fmt.Errorf("%w: bad magic or too short", errCorrupt)
	}
	le := binary.LittleEndian
	body, sum := data[:len(data)-4], le.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	p := &Params{}
	p.Bits, p.CharMin, p.CharMax, p.SkipMax = body[8], body[9], body[10], body[11]
	p.Window, p.Stride = le.Uint16(body[12:]), le.Uint16(body[14:])
	p.Bias = math.Float32frombits(le.Uint32(body[16:]))
	p.Threshold = math.Float32frombits(le.Uint32(body[20:]))
	p.Scale = math.Float32frombits(le.Uint32(body[24:]))
	metaLen := int(le.Uint32(body[28:]))
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
	return p, nil
}
