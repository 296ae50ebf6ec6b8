// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Edits are changes the gateway makes to a request before forwarding it.
type Edits struct {
	// Texts replaces prompt texts by Field (as reported in Request.Texts).
	Texts map[string]string
	// MaxTokens, when > 0, sets the request's output-token cap.
	MaxTokens int
	// IncludeUsage asks a streaming upstream for a final usage chunk.
	IncludeUsage bool
}

// Empty reports whether the edits change nothing.
func (e *Edits) Empty() bool {
	return len(e.Texts) == 0 && e.MaxTokens == 0 && !e.IncludeUsage
}

// Rewrite applies edits to a body that Parse accepted. It decodes into
// generic values (numbers kept verbatim) so that fields Bulwark does not know
// survive untouched; it is off the hot path, used only when a request must
// change.
func Rewrite(api API, body []byte, e Edits) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, malformed("%s", jsonErr(err))
	}
	for field, v := range e.Texts {
		if err := setPath(doc, field, v); err != nil {
			return nil, err
		}
	}
	if e.MaxTokens > 0 {
		key := mapKey(doc, "max_tokens")
		switch {
		case api == APIResponses:
			key = mapKey(doc, "max_output_tokens")
		case doc[mapKey(doc, "max_completion_tokens")] != nil:
			key = mapKey(doc, "max_completion_tokens")
		}
		// Every output-cap field gets the cap, so whichever the upstream
		// reads, it reads the cap.
		for _, k := range []string{"max_tokens", "max_completion_tokens", "max_output_tokens"} {
			if mk := mapKey(doc, k); doc[mk] != nil {
				doc[mk] = e.MaxTokens
			}
		}
		doc[key] = e.MaxTokens
	}
	if e.IncludeUsage {
		k := mapKey(doc, "stream_options")
		so, _ := doc[k].(map[string]any)
		if so == nil {
			so = map[string]any{}
		}
		so[mapKey(so, "include_usage")] = true
		doc[k] = so
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding rewritten body: %w", err)
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}

// setPath sets a string at a path such as "messages[2].content[0].text".
func setPath(doc map[string]any, path, v string) error {
	var cur any = doc
	segs := splitPath(path)
	for i, s := range segs {
		last := i == len(segs)-1
		switch c := cur.(type) {
		case map[string]any:
			k := mapKey(c, s)
			if last {
				c[k] = v
				return nil
			}
			cur = c[k]
		case []any:
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n >= len(c) {
				return fmt.Errorf("rewrite %s: no index %s", path, s)
			}
			if last {
				c[n] = v
				return nil
			}
			cur = c[n]
		default:
			return fmt.Errorf("rewrite %s: not a container at %q", path, s)
		}
	}
	return fmt.Errorf("rewrite %s: empty path", path)
}

// mapKey finds the key Parse read as name: Parse folds case (as Go
// upstreams do), so "Content" was read as "content" and must be the key
// rewritten, or the original value would reach the upstream beside the
// redacted one. CheckStrict refuses bodies with two case variants of a key.
func mapKey(m map[string]any, name string) string {
	if _, ok := m[name]; ok {
		return name
	}
	for k := range m {
		if string(foldKey([]byte(k))) == name {
			return k
		}
	}
	return name
}

func splitPath(p string) []string {
	p = strings.NewReplacer("[", ".", "]", "").Replace(p)
	return strings.Split(p, ".")
}
