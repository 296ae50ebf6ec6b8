// SPDX-License-Identifier: Apache-2.0

package main

import "math/bits"

// pyRandom is CPython's random.Random (MT19937 seeded by init_by_array)
// reduced to what BIPIA's insert_middle uses, so that the middle position
// is the one BIPIA would pick for the same seed, not merely a similar one.
type pyRandom struct {
	mt  [624]uint32
	mti int
}

// pySeedKey is the init_by_array key CPython derives from a non-negative
// integer seed: its 32-bit words, least significant first (at least one).
func pySeedKey(seed uint64) []uint32 {
	if seed>>32 == 0 {
		return []uint32{uint32(seed)}
	}
	return []uint32{uint32(seed), uint32(seed >> 32)}
}

func newPyRandom(key []uint32) *pyRandom {
	r := &pyRandom{}
	r.initByArray(key)
	return r
}

func (r *pyRandom) initGenrand(s uint32) {
	r.mt[0] = s
	for i := 1; i < len(r.mt); i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
	r.mti = len(r.mt)
}

func (r *pyRandom) initByArray(key []uint32) {
	const n = len(r.mt)
	r.initGenrand(19650218)
	i, j := 1, 0
	for k := max(n, len(key)); k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= n {
			r.mt[0] = r.mt[n-1]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k := n - 1; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= n {
			r.mt[0] = r.mt[n-1]
			i = 1
		}
	}
	r.mt[0] = 0x80000000
}

func (r *pyRandom) uint32() uint32 {
	const n, m = 624, 397
	if r.mti >= n {
		for k := 0; k < n; k++ {
			y := (r.mt[k] & 0x80000000) | (r.mt[(k+1)%n] & 0x7fffffff)
			v := r.mt[(k+m)%n] ^ (y >> 1)
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			r.mt[k] = v
		}
		r.mti = 0
	}
	y := r.mt[r.mti]
	r.mti++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// randbelow is Random._randbelow_with_getrandbits for 0 < n < 2**32:
// rejection sampling on getrandbits(n.bit_length()). random.sample with
// k=1 makes exactly one such call, so sample(seq, 1)[0] is
// seq[randbelow(len(seq))].
func (r *pyRandom) randbelow(n int) int {
	k := bits.Len(uint(n))
	for {
		v := int(r.uint32() >> (32 - k))
		if v < n {
			return v
		}
	}
}
