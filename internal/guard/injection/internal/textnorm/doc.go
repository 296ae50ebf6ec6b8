// SPDX-License-Identifier: Apache-2.0

// Package textnorm canonicalises prompt text before the injection classifier
// sees it, and finds payloads hidden in encodings.
//
// Attackers evade lexical detectors with cosmetic changes that a language
// model reads straight through: full-width or mathematical letters,
// zero-width and Unicode tag characters, Cyrillic and Greek look-alikes,
// leetspeak, s p a c e d letters, and instructions wrapped in base64, hex or
// ROT13. Undoing those here means the classifier only has to learn what an
// attack says, not every way of spelling it. The same code runs at training
// and at inference time so the two can never drift apart.
package textnorm
