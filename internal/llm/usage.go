// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"bytes"
	"encoding/json"
)

// Usage is the token accounting of one exchange.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	// Reported is true when the upstream said so itself; false means the
	// numbers are the gateway's own estimate (e.g. a stream cut short).
	Reported bool
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int64 { return u.PromptTokens + u.CompletionTokens }

type wireUsage struct {
	PromptTokens     *int64 `json:"prompt_tokens"`
	CompletionTokens *int64 `json:"completion_tokens"`
	InputTokens      *int64 `json:"input_tokens"`
	OutputTokens     *int64 `json:"output_tokens"`
}

type usageDoc struct {
	Usage *wireUsage `json:"usage"`
	// Responses API streams carry usage inside the final response object.
	Response *struct {
		Usage *wireUsage `json:"usage"`
	} `json:"response"`
}

var usageKey = []byte(`"usage"`)

// UsageFromJSON extracts token usage from a response body or one SSE data
// payload, in the chat/completions/embeddings or Responses API shape. It
// skips decoding entirely when the payload cannot contain usage, so it is
// cheap to call on every streamed chunk.
func UsageFromJSON(b []byte) (Usage, bool) {
	if !hasUsageObject(b) {
		return Usage{}, false
	}
	var d usageDoc
	if json.Unmarshal(b, &d) != nil {
		return Usage{}, false
	}
	w := d.Usage
	if w == nil && d.Response != nil {
		w = d.Response.Usage
	}
	if w == nil {
		return Usage{}, false
	}
	u := Usage{Reported: true}
	switch {
	case w.PromptTokens != nil:
		u.PromptTokens = *w.PromptTokens
	case w.InputTokens != nil:
		u.PromptTokens = *w.InputTokens
	}
	switch {
	case w.CompletionTokens != nil:
		u.CompletionTokens = *w.CompletionTokens
	case w.OutputTokens != nil:
		u.CompletionTokens = *w.OutputTokens
	}
	return u, true
}

// IsUsageOnlyChunk reports whether a chat/completions stream chunk exists
// only to carry usage (empty choices), i.e. the chunk that
// stream_options.include_usage adds.
func IsUsageOnlyChunk(b []byte) bool {
	if !bytes.Contains(b, usageKey) {
		return false
	}
	var c struct {
		Choices []json.RawMessage `json:"choices"`
		Usage   json.RawMessage   `json:"usage"`
	}
	if json.Unmarshal(b, &c) != nil {
		return false
	}
	return len(c.Choices) == 0 && len(c.Usage) > 0 && string(c.Usage) != "null"
}

// hasUsageObject reports whether b has a "usage" key whose value is an
// object; streams repeat "usage":null on every chunk, and those must not
// cost a decode.
func hasUsageObject(b []byte) bool {
	for {
		i := bytes.Index(b, usageKey)
		if i < 0 {
			return false
		}
		b = b[i+len(usageKey):]
		j := 0
		for j < len(b) && (b[j] == ' ' || b[j] == ':' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
			j++
		}
		if j < len(b) && b[j] == '{' {
			return true
		}
	}
}

var deltaKeys = [][]byte{[]byte(`"content":"`), []byte(`"text":"`), []byte(`"delta":"`)}

// EstimateDeltaTokens guesses the tokens carried by one stream chunk from
// the length of its text (about four bytes a token for English, at least
// one per chunk that carries text). It is used only when a stream ends
// before the upstream reports usage.
func EstimateDeltaTokens(chunk []byte) int64 {
	for _, k := range deltaKeys {
		i := bytes.Index(chunk, k)
		if i < 0 {
			continue
		}
		s := chunk[i+len(k):]
		n := 0
		for n < len(s) && s[n] != '"' {
			if s[n] == '\\' {
				n++
			}
			n++
		}
		if n == 0 {
			return 0
		}
		return int64(max(1, (n+3)/4))
	}
	return 0
}
