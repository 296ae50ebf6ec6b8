// SPDX-License-Identifier: Apache-2.0

// Package tokens estimates how many BPE tokens a prompt will cost before
// the upstream says so, so that token limits can reserve before
// forwarding. It needs no vocabulary and no network: it mimics the
// pre-tokenization of the cl100k/o200k encodings (words, number groups,
// punctuation runs, whitespace) and charges each piece by script, with
// coefficients fitted so that estimates lean high. The measured error
// against real cl100k_base and o200k_base counts, per language and for
// code, is in testdata/corpus.jsonl and checked by TestEstimateError; see
// docs/limits.md for the figures.
package tokens
