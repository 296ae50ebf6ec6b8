// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"errors"
	"strconv"

	"github.com/bulwarkai/bulwark/internal/jsonlex"
	"github.com/bulwarkai/bulwark/internal/llm"
)

// argSink receives the ARGS_POST entries of a JSON body; Coraza's
// transaction is one.
type argSink interface {
	AddPostRequestArgument(key, value string)
}

// A pattern is a JSON path whose string leaves are prompt text (or media
// payloads, checked by the SSRF check instead). "*" matches any one
// segment, "**" any number of them.
type pattern []string

// promptPaths lists, per API, the fields CRS does not see in AI-aware
// mode. They are a superset of llm.Request.Texts (tested): the guardrails
// inspect those, and the rest here is conversation content too (tool-call
// arguments the model wrote, tool and schema descriptions) or media that
// the SSRF check covers.
var promptPaths = map[llm.API][]pattern{
	llm.APIChat: {
		{"messages", "*", "content"},
		{"messages", "*", "content", "*", "text"},
		{"messages", "*", "content", "*", "refusal"},
		{"messages", "*", "content", "*", "image_url"},
		{"messages", "*", "content", "*", "image_url", "url"},
		{"messages", "*", "content", "*", "input_audio", "data"},
		{"messages", "*", "content", "*", "file", "file_data"},
		{"messages", "*", "content", "*", "file", "file_url"},
		{"messages", "*", "content", "*", "file_url"},
		{"messages", "*", "content", "*", "audio_url"},
		{"messages", "*", "content", "*", "video_url", "url"},
		{"messages", "*", "tool_calls", "*", "function", "arguments"},
		{"messages", "*", "function_call", "arguments"},
		{"messages", "*", "reasoning_content"},
		{"messages", "*", "reasoning"},
		{"messages", "*", "refusal"},
		{"prediction", "content"},
		{"prediction", "content", "*", "text"},
		{"tools", "*", "function", "description"},
		{"tools", "*", "function", "parameters", "**", "description"},
		{"functions", "*", "description"},
		{"functions", "*", "parameters", "**", "description"},
		{"response_format", "json_schema", "description"},
		{"response_format", "json_schema", "schema", "**", "description"},
	},
	llm.APICompletions: {
		{"prompt"},
		{"prompt", "*"},
		{"prompt", "*", "*"}, // token ids
		{"suffix"},
	},
	llm.APIEmbeddings: {
		{"input"},
		{"input", "*"},
		{"input", "*", "*"}, // token ids
	},
	llm.APIResponses: {
		{"instructions"},
		{"input"},
		{"input", "*", "content"},
		{"input", "*", "content", "*", "text"},
		{"input", "*", "content", "*", "image_url"},
		{"input", "*", "content", "*", "file_data"},
		{"input", "*", "content", "*", "file_url"},
		{"input", "*", "output"},
		{"input", "*", "output", "*", "text"},
		{"input", "*", "arguments"},
		{"tools", "*", "description"},
		{"tools", "*", "parameters", "**", "description"},
		{"text", "format", "description"},
		{"text", "format", "schema", "**", "description"},
	},
}

// segment is one step of the path being walked: a key or an array index.
type segment struct {
	key   []byte // nil for an index
	index bool
}

// walker flattens a JSON body into ARGS the way Coraza's JSON body
// processor does ("json.messages.0.role"), leaving out prompt paths. It
// reads a body that llm.Parse or llm.CheckStrict has accepted, but never
// trusts it: on malformed input it stops with errWalk.
type walker struct {
	b       []byte
	i       int
	path    []byte // "json.a.0.b"
	segs    []segment
	skip    []pattern // nil: inspect everything
	sink    argSink
	depth   int
	args    int
	skipped int
}

var errWalk = errors.New("malformed JSON body")

// maxWalkDepth stops a hostile body from recursing without end; bodies get
// here only after CheckStrict, whose default depth is far lower.
const maxWalkDepth = 1024

// walkJSON feeds body's leaves to sink, skipping the prompt paths of api
// unless all is set. It returns how many leaves it fed and skipped.
func walkJSON(body []byte, api llm.API, all bool, sink argSink) (args, skipped int, err error) {
	w := &walker{b: body, sink: sink, path: append(make([]byte, 0, 128), "json"...)}
	if !all {
		w.skip = promptPaths[api]
	}
	w.ws()
	if err := w.value(); err != nil {
		return w.args, w.skipped, err
	}
	return w.args, w.skipped, nil
}

func (w *walker) ws() { w.i = jsonlex.SkipSpace(w.b, w.i) }

func (w *walker) value() error {
	if w.i >= len(w.b) {
		return errWalk
	}
	switch c := w.b[w.i]; c {
	case '{':
		return w.object()
	case '[':
		return w.array()
	case '"':
		if w.prompt() {
			w.skipped++
			return w.skipString()
		}
		s, err := w.str()
		if err != nil {
			return err
		}
		w.leaf(s)
		return nil
	case 'n':
		if !w.lit("null") {
			return errWalk
		}
		w.leaf("")
		return nil
	case 't', 'f':
		start := w.i
		if !w.lit("true") && !w.lit("false") {
			return errWalk
		}
		w.leaf(string(w.b[start:w.i]))
		return nil
	default:
		start := w.i
		w.i = jsonlex.SkimNumber(w.b, w.i)
		if w.i == start {
			return errWalk
		}
		if w.prompt() {
			w.skipped++ // a token id of a pre-tokenized prompt
			return nil
		}
		w.leaf(string(w.b[start:w.i]))
		return nil
	}
}

func (w *walker) leaf(v string) {
	w.args++
	w.sink.AddPostRequestArgument(string(w.path), v)
}

func (w *walker) lit(s string) bool {
	if jsonlex.Literal(w.b, w.i, s) {
		w.i += len(s)
		return true
	}
	return false
}

func (w *walker) push(seg segment, name []byte) int {
	mark := len(w.path)
	w.path = append(w.path, '.')
	w.path = append(w.path, name...)
	w.segs = append(w.segs, seg)
	return mark
}

func (w *walker) pop(mark int) {
	w.path = w.path[:mark]
	w.segs[len(w.segs)-1] = segment{}
	w.segs = w.segs[:len(w.segs)-1]
}

func (w *walker) object() error {
	if w.depth++; w.depth > maxWalkDepth {
		return errWalk
	}
	defer func() { w.depth-- }()
	w.i++
	w.ws()
	if w.i < len(w.b) && w.b[w.i] == '}' {
		w.i++
		return nil
	}
	for {
		w.ws()
		if w.i >= len(w.b) || w.b[w.i] != '"' {
			return errWalk
		}
		key, err := w.strBytes()
		if err != nil {
			return err
		}
		w.ws()
		if w.i >= len(w.b) || w.b[w.i] != ':' {
			return errWalk
		}
		w.i++
		w.ws()
		// key is a view of the body or, when escaped, a fresh slice:
		// stable while the segment lives.
		mark := w.push(segment{key: key}, key)
		err = w.value()
		w.pop(mark)
		if err != nil {
			return err
		}
		w.ws()
		if w.i >= len(w.b) {
			return errWalk
		}
		switch w.b[w.i] {
		case ',':
			w.i++
		case '}':
			w.i++
			return nil
		default:
			return errWalk
		}
	}
}

func (w *walker) array() error {
	if w.depth++; w.depth > maxWalkDepth {
		return errWalk
	}
	defer func() { w.depth-- }()
	w.i++
	w.ws()
	if w.i < len(w.b) && w.b[w.i] == ']' {
		w.i++
		return nil
	}
	var num [20]byte
	for n := 0; ; n++ {
		w.ws()
		mark := w.push(segment{index: true}, strconv.AppendInt(num[:0], int64(n), 10))
		err := w.value()
		w.pop(mark)
		if err != nil {
			return err
		}
		w.ws()
		if w.i >= len(w.b) {
			return errWalk
		}
		switch w.b[w.i] {
		case ',':
			w.i++
		case ']':
			w.i++
			return nil
		default:
			return errWalk
		}
	}
}

// prompt reports whether the current path is a prompt path.
func (w *walker) prompt() bool {
	for _, p := range w.skip {
		if matchPath(p, w.segs) {
			return true
		}
	}
	return false
}

func matchPath(p pattern, segs []segment) bool {
	for len(p) > 0 {
		if p[0] == "**" {
			for k := 0; k <= len(segs); k++ {
				if matchPath(p[1:], segs[k:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		switch {
		case p[0] == "*":
		case segs[0].index || string(segs[0].key) != p[0]:
			return false
		}
		p, segs = p[1:], segs[1:]
	}
	return len(segs) == 0
}

// skipString moves past a string without decoding it.
func (w *walker) skipString() error {
	end, _, ok := jsonlex.SkipString(w.b, w.i)
	if !ok {
		return errWalk
	}
	w.i = end
	return nil
}

// str reads a string value. Strings without escapes are copied once.
func (w *walker) str() (string, error) {
	b, err := w.strBytes()
	return string(b), err
}

// strBytes reads a string at w.i, decoding escapes into a fresh slice
// when there are any, else returning a view of the body. It decodes as
// encoding/json does, like llm.Parse, so that ARGS hold the text the
// upstream reads.
func (w *walker) strBytes() ([]byte, error) {
	end, escaped, ok := jsonlex.SkipString(w.b, w.i)
	if !ok {
		return nil, errWalk
	}
	raw := w.b[w.i+1 : end-1]
	w.i = end
	if !escaped {
		return raw, nil
	}
	out, ok := jsonlex.Unquote(make([]byte, 0, len(raw)), raw)
	if !ok {
		return nil, errWalk
	}
	return out, nil
}
