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

var usageKey = []byte(`"usage"`)

// UsageFromJSON extracts token usage from a response body or one SSE data
// payload, in the chat/completions/embeddings or Responses API shape. It
// returns at once when the payload cannot contain usage, so it is cheap to
// call on every streamed chunk.
func UsageFromJSON(b []byte) (Usage, bool) {
	if !hasUsageObject(b) {
		return Usage{}, false
	}
	s := &scanner{b: b}
	var u Usage
	var found bool
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "usage":
			if s.peek() == '{' {
				found = true
				return readUsage(s, &u)
			}
		case "response": // Responses API streams: usage inside the final response
			if s.peek() == '{' {
				return s.object(func(k []byte) error {
					if string(k) == "usage" && s.peek() == '{' {
						found = true
						return readUsage(s, &u)
					}
					return s.skip()
				})
			}
		}
		return s.skip()
	})
	if err != nil || !found {
		return Usage{}, false
	}
	u.Reported = true
	return u, true
}

func readUsage(s *scanner, u *Usage) error {
	return s.object(func(key []byte) error {
		switch string(key) {
		case "prompt_tokens", "input_tokens":
			if c := s.peek(); c == '-' || (c >= '0' && c <= '9') {
				n, err := s.integer()
				u.PromptTokens = max(n, 0)
				return err
			}
		case "completion_tokens", "output_tokens":
			if c := s.peek(); c == '-' || (c >= '0' && c <= '9') {
				n, err := s.integer()
				u.CompletionTokens = max(n, 0)
				return err
			}
		}
		return s.skip()
	})
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

// EventEnd returns the length of the first complete server-sent event in b,
// including its terminating blank line, or -1 if b holds no complete event.
func EventEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}
