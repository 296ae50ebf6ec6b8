// SPDX-License-Identifier: Apache-2.0

// Package guard is the guardrails stage: per route, input guards scan
// every prompt text (messages of every role, tool results, instructions,
// completions prompts, embeddings input) and output guards scan the
// model's text before the client sees it, streamed or not. Each guard
// runs one detector (promptInjection, pii, secrets, code, patterns or a
// remote guard service) with one action: block, redact, mask (redact the
// prompt, restore the originals in the reply) or detect.
//
// Streams are guarded with a bounded hold-back: text is released only
// once no detector can still find a value covering it, so a value split
// across chunks never reaches the client; see textScan and
// docs/guardrails.md.
package guard
