// SPDX-License-Identifier: Apache-2.0

package textnorm

import (
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// tableSize covers Latin, IPA, Greek and Cyrillic; folding tables are arrays
// rather than maps because they are consulted for every rune of every prompt.
const tableSize = 0x590

var (
	// latinFold strips diacritics from Latin letters (é→e) and maps Latin
	// small capitals (ɪɢɴᴏʀᴇ) to plain letters. Accents carry little signal
	// for this task and are a cheap way to dodge keyword n-grams.
	latinFold [tableSize]rune
	// confusables maps lower-case Cyrillic and Greek letters that look like
	// Latin ones to the Latin letter.
	confusables [tableSize]rune
	// leetMap maps leetspeak digits and symbols to letters.
	leetMap [128]rune
)

// smallCaps lists Latin small capitals outside tableSize, paired with the
// letter they imitate.
var smallCaps = map[rune]rune{
	0x1D00: 'a', 0x0299: 'b', 0x1D04: 'c', 0x1D05: 'd', 0x1D07: 'e', 0xA730: 'f', 0x0262: 'g',
	0x029C: 'h', 0x026A: 'i', 0x1D0A: 'j', 0x1D0B: 'k', 0x029F: 'l', 0x1D0D: 'm', 0x0274: 'n',
	0x1D0F: 'o', 0x1D18: 'p', 0x01EB: 'q', 0x0280: 'r', 0xA731: 's', 0x1D1B: 't', 0x1D1C: 'u',
	0x1D20: 'v', 0x1D21: 'w', 0x028F: 'y', 0x1D22: 'z',
}

func init() {
	for r := rune(0xC0); r < 0x250; r++ {
		d := norm.NFD.String(string(r))
		if b := []rune(d)[0]; b < 0x80 && unicode.IsLetter(b) && len([]rune(d)) > 1 {
			latinFold[r] = unicode.ToLower(b)
		}
	}
	for r, f := range map[rune]rune{'ø': 'o', 'đ': 'd', 'ł': 'l', 'ı': 'i', 'ß': 's', 'ħ': 'h', 'ŧ': 't', 'ƀ': 'b', 'ɨ': 'i', 'ɡ': 'g', 'ɑ': 'a', 'ɩ': 'i'} {
		latinFold[r] = f
	}
	for r, f := range smallCaps {
		if r < tableSize {
			latinFold[r] = f
		}
	}
	// Only letters that are visually near-identical in common fonts; a wider
	// table would turn ordinary Russian or Greek words into Latin noise.
	for r, f := range map[rune]rune{
		// Cyrillic
		'а': 'a', 'в': 'b', 'с': 'c', 'е': 'e', 'ё': 'e', 'һ': 'h', 'і': 'i', 'ї': 'i', 'ј': 'j', 'к': 'k',
		'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'г': 'r', 'ѕ': 's', 'т': 't', 'ѵ': 'v',
		'ԝ': 'w', 'х': 'x', 'у': 'y', 'ӏ': 'l', 'ԁ': 'd',
		// Armenian
		'ո': 'n', 'ս': 'u', 'ց': 'g', 'օ': 'o',
		// Greek
		'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
		'υ': 'u', 'χ': 'x', 'γ': 'y', 'ϲ': 'c', 'ϳ': 'j', 'ω': 'w', 'ζ': 'z',
	} {
		confusables[r] = f
	}
	for r, f := range map[rune]rune{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '9': 'g', '@': 'a', '$': 's'} {
		leetMap[r] = f
	}
}

// foldLatin returns the plain Latin letter for r, or r.
func foldLatin(r rune) rune {
	if r < tableSize {
		if f := latinFold[r]; f != 0 {
			return f
		}
		return r
	}
	if r >= 0x1D00 && r <= 0x1D22 || r == 0xA730 || r == 0xA731 {
		if f, ok := smallCaps[r]; ok {
			return f
		}
	}
	return r
}

// confusable returns the Latin look-alike of r, or 0.
func confusable(r rune) rune {
	if r >= 0x370 && r < tableSize {
		return confusables[r]
	}
	return 0
}

// leet returns the letter a leetspeak character stands for, or 0.
func leet(r rune) rune {
	if r < 128 {
		return leetMap[r]
	}
	return 0
}
