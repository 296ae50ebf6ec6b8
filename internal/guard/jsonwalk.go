// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"errors"
	"unicode/utf8"

	"github.com/bulwarkai/bulwark/internal/jsonlex"
)

// The output guards edit model text inside JSON documents (response bodies
// and stream chunks) without re-encoding the rest: walk finds the byte span
// of every scalar with its path, and splice replaces spans. Fields the
// gateway does not know survive byte for byte, and a chunk costs one pass.

// elem is one step of a path: an object key or an array index (key == ""
// and idx >= 0). Keys are unescaped.
type elem struct {
	key string
	idx int
}

// scalar is a string or number value found by walk. For strings, the span
// includes the quotes.
type scalar struct {
	start, end int
	str        bool
	// cut marks the whole value of a key that walk's cut function chose,
	// which is reported instead of being walked.
	cut bool
}

var errJSON = errors.New("malformed JSON in response")

// maxJSONDepth bounds nesting; response chunks are a handful of levels deep.
const maxJSONDepth = 64

// walker walks one JSON document.
type walker struct {
	b    []byte
	i    int
	path []elem
	fn   func(path []elem, v scalar)
	cut  func(key string) bool
}

// walk calls fn for every string and number in b, with the path leading
// to it (valid only during the call). It fails on anything that is not one
// well-formed JSON value.
// Values of keys for which cut returns true are reported whole (cut set)
// and not walked.
func walk(b []byte, path []elem, fn func(path []elem, v scalar), cut func(key string) bool) ([]elem, error) {
	w := walker{b: b, path: path[:0], fn: fn, cut: cut}
	w.ws()
	if err := w.value(0); err != nil {
		return w.path, err
	}
	w.ws()
	if w.i != len(w.b) {
		return w.path, errJSON
	}
	return w.path, nil
}

func (w *walker) ws() { w.i = jsonlex.SkipSpace(w.b, w.i) }

func (w *walker) value(depth int) error {
	if w.i >= len(w.b) || depth > maxJSONDepth {
		return errJSON
	}
	switch c := w.b[w.i]; {
	case c == '{':
		return w.object(depth)
	case c == '[':
		return w.array(depth)
	case c == '"':
		s := w.i
		if _, err := w.str(); err != nil {
			return err
		}
		w.fn(w.path, scalar{start: s, end: w.i, str: true})
		return nil
	case c == 't':
		return w.lit("true")
	case c == 'f':
		return w.lit("false")
	case c == 'n':
		return w.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		s := w.i
		w.i = jsonlex.SkimNumber(w.b, w.i)
		w.fn(w.path, scalar{start: s, end: w.i})
		return nil
	}
	return errJSON
}

func (w *walker) lit(s string) error {
	if !jsonlex.Literal(w.b, w.i, s) {
		return errJSON
	}
	w.i += len(s)
	return nil
}

// str skips a string at w.i and reports whether it held escapes, which
// are checked only when the string is decoded.
func (w *walker) str() (escaped bool, err error) {
	end, escaped, ok := jsonlex.SkipString(w.b, w.i)
	if !ok {
		return false, errJSON
	}
	w.i = end
	return escaped, nil
}

func (w *walker) object(depth int) error {
	w.i++
	w.ws()
	if w.i < len(w.b) && w.b[w.i] == '}' {
		w.i++
		return nil
	}
	for {
		w.ws()
		if w.i >= len(w.b) || w.b[w.i] != '"' {
			return errJSON
		}
		ks := w.i
		escaped, err := w.str()
		if err != nil {
			return err
		}
		key := string(w.b[ks+1 : w.i-1])
		if escaped {
			if key, err = decodeString(w.b[ks:w.i]); err != nil {
				return err
			}
		}
		w.ws()
		if w.i >= len(w.b) || w.b[w.i] != ':' {
			return errJSON
		}
		w.i++
		w.ws()
		w.path = append(w.path, elem{key: key, idx: -1})
		vs := w.i
		if err := w.value(depth + 1); err != nil {
			return err
		}
		if w.cut != nil && w.cut(key) {
			w.fn(w.path, scalar{start: vs, end: w.i, cut: true})
		}
		w.path = w.path[:len(w.path)-1]
		w.ws()
		if w.i >= len(w.b) {
			return errJSON
		}
		switch w.b[w.i] {
		case ',':
			w.i++
		case '}':
			w.i++
			return nil
		default:
			return errJSON
		}
	}
}

func (w *walker) array(depth int) error {
	w.i++
	w.ws()
	if w.i < len(w.b) && w.b[w.i] == ']' {
		w.i++
		return nil
	}
	for n := 0; ; n++ {
		w.ws()
		w.path = append(w.path, elem{idx: n})
		if err := w.value(depth + 1); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
		w.ws()
		if w.i >= len(w.b) {
			return errJSON
		}
		switch w.b[w.i] {
		case ',':
			w.i++
		case ']':
			w.i++
			return nil
		default:
			return errJSON
		}
	}
}

// decodeString decodes a JSON string literal (quotes included) as
// encoding/json does, invalid UTF-8 becoming U+FFFD, so the guards read
// exactly what the client's decoder will.
func decodeString(lit []byte) (string, error) {
	raw := lit[1 : len(lit)-1]
	plain := true
	for _, c := range raw {
		if c == '\\' || c < 0x20 {
			plain = false
			break
		}
	}
	if plain && utf8.Valid(raw) {
		return string(raw), nil
	}
	out, ok := jsonlex.Unquote(make([]byte, 0, len(raw)), raw)
	if !ok {
		return "", errJSON
	}
	return string(out), nil
}

// appendString appends s as a JSON string literal. HTML characters stay
// as they are (as the upstreams send them); U+2028 and U+2029 are escaped
// for JavaScript clients.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[last:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			last = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[last:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			last = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[last:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			last = i
			continue
		}
		i += size
	}
	dst = append(dst, s[last:]...)
	return append(dst, '"')
}

// edit replaces the span [start,end) of a document with repl.
type edit struct {
	start, end int
	repl       []byte
}

// splice applies edits, which must be sorted and disjoint, to b.
func splice(dst, b []byte, edits []edit) []byte {
	last := 0
	for _, e := range edits {
		dst = append(dst, b[last:e.start]...)
		dst = append(dst, e.repl...)
		last = e.end
	}
	return append(dst, b[last:]...)
}
