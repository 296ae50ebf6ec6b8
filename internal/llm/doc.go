// SPDX-License-Identifier: Apache-2.0

// Package llm understands OpenAI-compatible request and response bodies:
// which API a request is, its model, stream flag, output cap and prompt
// texts, and the token usage an upstream reports. Every function here takes
// untrusted input and is fuzzed.
package llm
