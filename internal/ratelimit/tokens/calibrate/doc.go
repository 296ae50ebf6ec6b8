// SPDX-License-Identifier: Apache-2.0

// Command calibrate counts the real cl100k_base and o200k_base tokens of
// every sample in ../testdata/corpus and writes ../testdata/counts.json,
// which TestEstimateError compares the estimator against. It is a module
// of its own so that the gateway does not carry the BPE vocabularies
// (about 12 MB): run it only when the corpus changes.
//
//	cd internal/ratelimit/tokens/calibrate && go run .
package main
