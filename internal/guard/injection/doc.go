// SPDX-License-Identifier: Apache-2.0

// Package injection detects prompt-injection and jailbreak attempts in text
// with a small linear classifier that runs in process.
//
// A gateway has to judge every prompt, tool result and retrieved document
// before it reaches the model, so the detector must be cheap (well under a
// millisecond for a typical prompt), need no network or GPU, and degrade
// predictably. A logistic regression over hashed word and character n-grams
// meets that budget. Before scoring, text is normalised (NFKC, invisible
// characters, look-alike letters, leetspeak, spaced-out letters) and encoded
// payloads (base64, hex, percent-encoding, ROT13, reversed text, Unicode tag
// characters) are decoded into extra variants; the score is the maximum over
// variants and over windows of each variant, so an instruction hidden inside
// a long document or an encoding still counts.
//
// The model is trained by ./train from public datasets plus hand-written
// cases in testdata; see docs/guard-classifier.md for the data, the
// held-out results and the limitations.
package injection
