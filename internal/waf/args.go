// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"errors"
	"strconv"
	"unicode/utf8"

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

func (w *walker) ws() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

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
		for w.i < len(w.b) {
			c := w.b[w.i]
			if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
				break
			}
			w.i++
		}
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
	if len(w.b)-w.i >= len(s) && string(w.b[w.i:w.i+len(s)]) == s {
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
	w.i++
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case '"':
			w.i++
			return nil
		case '\\':
			w.i += 2
		default:
			w.i++
		}
	}
	return errWalk
}

// str reads a string value. Strings without escapes are copied once.
func (w *walker) str() (string, error) {
	start := w.i + 1
	for j := start; j < len(w.b); j++ {
		switch w.b[j] {
		case '"':
			w.i = j + 1
			return string(w.b[start:j]), nil
		case '\\':
			b, err := w.strBytes()
			return string(b), err
		}
	}
	return "", errWalk
}

// strBytes reads a string at w.i, decoding escapes into a fresh slice
// when there are any, else returning a view of the body.
func (w *walker) strBytes() ([]byte, error) {
	start := w.i + 1
	j := start
	for ; j < len(w.b); j++ {
		if w.b[j] == '"' {
			w.i = j + 1
			return w.b[start:j], nil
		}
		if w.b[j] == '\\' {
			break
		}
	}
	out := append([]byte(nil), w.b[start:j]...)
	for j < len(w.b) {
		c := w.b[j]
		switch {
		case c == '"':
			w.i = j + 1
			return out, nil
		case c != '\\':
			out = append(out, c)
			j++
		case j+1 >= len(w.b):
			return nil, errWalk
		case w.b[j+1] == 'u':
			r, ok := hex4(w.b, j+2)
			if !ok {
				return nil, errWalk
			}
			j += 6
			if r >= 0xD800 && r < 0xDC00 && j+1 < len(w.b) && w.b[j] == '\\' && w.b[j+1] == 'u' {
				if lo, ok := hex4(w.b, j+2); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					j += 6
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			out = append(out, unescape(w.b[j+1]))
			j += 2
		}
	}
	return nil, errWalk
}

func unescape(e byte) byte {
	switch e {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return e
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
