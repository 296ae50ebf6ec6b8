// SPDX-License-Identifier: Apache-2.0

// Package feature turns normalised text into hashed n-gram features and
// defines the classifier's model file format.
//
// It is shared by the trainer and the runtime scorer so that both extract
// exactly the same features: a model trained on one feature set and served
// on another fails silently, which is the worst way for a security control
// to fail.
package feature
