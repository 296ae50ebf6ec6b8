// SPDX-License-Identifier: Apache-2.0

// Package redact replaces detected values with typed placeholders such as
// [EMAIL_1] and, in mask mode, puts the originals back into the model's
// response, including a response that arrives as a stream of chunks.
//
// A Redactor lives for one request: numbering starts at 1 per type, and a
// value that occurs twice (in one message or across messages of the same
// request) gets the same placeholder both times, so the model can still
// tell that two mentions refer to the same thing.
package redact
