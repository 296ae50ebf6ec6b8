// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/bulwarkai/bulwark/internal/jsonlex"
)

// StrictLimits bound the structure of a JSON request body. A zero field
// takes the default noted on it.
type StrictLimits struct {
	// MaxDepth caps object/array nesting. 0 means DefaultMaxDepth.
	MaxDepth int
	// MaxMessages caps the length of a top-level "messages" array (chat)
	// or "input" array (Responses). 0 means no cap.
	MaxMessages int
	// MaxParts caps content parts (elements of messages[].content or
	// input[].content arrays) summed over the body. 0 means no cap.
	MaxParts int
}

// DefaultMaxDepth bounds nesting when StrictLimits.MaxDepth is 0, so that
// no body can make the checker (or any later parser) recurse without end.
const DefaultMaxDepth = 1000

// StrictKind says which strictness rule a body broke.
type StrictKind string

// Strictness rules, used as audit and metric labels.
const (
	StrictSyntax       StrictKind = "json_syntax"
	StrictDuplicateKey StrictKind = "duplicate_key"
	StrictUTF8         StrictKind = "invalid_utf8"
	StrictDepth        StrictKind = "max_depth"
	StrictMessages     StrictKind = "max_messages"
	StrictParts        StrictKind = "max_parts"
)

// StrictError is what CheckStrict returns. It wraps ErrMalformed; its
// message is safe to show the client (it names a key or an offset, never
// echoes values).
type StrictError struct {
	Kind   StrictKind
	Offset int
	Detail string
}

func (e *StrictError) Error() string {
	return fmt.Sprintf("%s: %s at byte %d", ErrMalformed, e.Detail, e.Offset)
}

func (e *StrictError) Unwrap() error { return ErrMalformed }

// CheckStrict reports whether body is one well-formed JSON value that every
// parser reads the same way, within lim. It refuses what lets two parsers
// disagree, which would let a request mean one thing to the gateway's
// guards and another to the upstream:
//   - syntax errors and trailing data;
//   - duplicate keys in any object (Go keeps the last, some parsers the
//     first), and keys that differ only in case when they name a field the
//     gateway decodes (encoding/json matches those case-insensitively,
//     Python does not);
//   - invalid UTF-8 and \u escapes of lone surrogates (decoders replace or
//     keep them differently);
//   - nesting deeper than lim.MaxDepth, more messages or content parts than
//     lim allows.
//
// It allocates nothing for ordinary bodies and never panics (fuzzed).
func CheckStrict(body []byte, lim StrictLimits) error {
	c := checkerPool.Get().(*checker)
	c.reset(body, lim)
	err := c.check()
	c.b = nil
	checkerPool.Put(c)
	if err != nil {
		return err
	}
	return nil
}

var checkerPool = sync.Pool{New: func() any { return new(checker) }}

// Where a value sits, for counting messages and parts.
type place uint8

const (
	placeNone     place = iota
	placeTop            // the root object
	placeMessages       // the top-level messages/input array
	placeMessage        // one element of it
	placeParts          // a message's content array
)

type checker struct {
	b        []byte
	i        int
	lim      StrictLimits
	messages int
	parts    int
	// keys holds the keys of every object being read, innermost last;
	// each object remembers where its own keys start.
	keys    [][]byte
	scratch []byte
}

func (c *checker) reset(b []byte, lim StrictLimits) {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	for i := range c.keys {
		c.keys[i] = nil
	}
	*c = checker{b: b, lim: lim, keys: c.keys[:0], scratch: c.scratch[:0]}
}

func (c *checker) fail(kind StrictKind, format string, args ...any) error {
	return &StrictError{Kind: kind, Offset: c.i, Detail: fmt.Sprintf(format, args...)}
}

func (c *checker) check() error {
	c.ws()
	if c.i >= len(c.b) {
		return c.fail(StrictSyntax, "empty body")
	}
	pl := placeNone
	if c.b[c.i] == '{' {
		pl = placeTop
	}
	if err := c.value(1, pl); err != nil {
		return err
	}
	c.ws()
	if c.i != len(c.b) {
		return c.fail(StrictSyntax, "unexpected data after the JSON value")
	}
	return nil
}

func (c *checker) ws() { c.i = jsonlex.SkipSpace(c.b, c.i) }

func (c *checker) value(depth int, pl place) error {
	if c.i >= len(c.b) {
		return c.fail(StrictSyntax, "unexpected end of JSON")
	}
	switch ch := c.b[c.i]; {
	case ch == '{':
		return c.object(depth, pl)
	case ch == '[':
		return c.array(depth, pl)
	case ch == '"':
		_, _, err := c.str()
		return err
	case ch == 't':
		return c.lit("true")
	case ch == 'f':
		return c.lit("false")
	case ch == 'n':
		return c.lit("null")
	case ch == '-' || ch >= '0' && ch <= '9':
		return c.number()
	default:
		return c.fail(StrictSyntax, "invalid character %q", ch)
	}
}

func (c *checker) lit(s string) error {
	if !jsonlex.Literal(c.b, c.i, s) {
		return c.fail(StrictSyntax, "invalid literal")
	}
	c.i += len(s)
	return nil
}

func (c *checker) number() error {
	end, ok := jsonlex.Number(c.b, c.i)
	c.i = end
	if !ok {
		return c.fail(StrictSyntax, "invalid number")
	}
	return nil
}

// str reads a string starting at the opening quote. It returns the raw
// content between the quotes and whether it holds escapes.
func (c *checker) str() (raw []byte, escaped bool, err error) {
	c.i++ // opening quote
	start := c.i
	for c.i < len(c.b) {
		ch := c.b[c.i]
		switch {
		case ch == '"':
			raw = c.b[start:c.i]
			c.i++
			return raw, escaped, nil
		case ch == '\\':
			escaped = true
			if err := c.escape(); err != nil {
				return nil, false, err
			}
		case ch < 0x20:
			return nil, false, c.fail(StrictSyntax, "control character in string")
		case ch < utf8.RuneSelf:
			c.i++
		default:
			r, size := utf8.DecodeRune(c.b[c.i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, false, c.fail(StrictUTF8, "invalid UTF-8 in string")
			}
			c.i += size
		}
	}
	return nil, false, c.fail(StrictSyntax, "unterminated string")
}

// escape reads one escape sequence at c.i (the backslash).
func (c *checker) escape() error {
	if c.i+1 >= len(c.b) {
		return c.fail(StrictSyntax, "unterminated string")
	}
	if e := c.b[c.i+1]; e != 'u' {
		if _, ok := jsonlex.Unescape(e); !ok {
			return c.fail(StrictSyntax, "invalid escape")
		}
		c.i += 2
		return nil
	}
	r, n, ok := jsonlex.Unicode(c.b, c.i)
	if !ok {
		return c.fail(StrictSyntax, "invalid \\u escape")
	}
	// Unicode pairs a high surrogate with a following low one; what is
	// left is a lone surrogate, which encoding/json would turn into U+FFFD
	// and other decoders keep or refuse.
	if utf16.IsSurrogate(r) {
		return c.fail(StrictUTF8, "unpaired UTF-16 surrogate escape")
	}
	c.i += n
	return nil
}

func (c *checker) object(depth int, pl place) error {
	if depth > c.lim.MaxDepth {
		return c.fail(StrictDepth, "JSON nested deeper than %d levels", c.lim.MaxDepth)
	}
	c.i++ // {
	base := len(c.keys)
	defer func() {
		for j := base; j < len(c.keys); j++ {
			c.keys[j] = nil
		}
		c.keys = c.keys[:base]
	}()
	var seen map[string]struct{} // only for objects with many keys
	var fields uint32            // known field names seen, by index
	c.ws()
	if c.i < len(c.b) && c.b[c.i] == '}' {
		c.i++
		return nil
	}
	for {
		c.ws()
		if c.i >= len(c.b) || c.b[c.i] != '"' {
			return c.fail(StrictSyntax, "expected a string key")
		}
		keyAt := c.i
		raw, escaped, err := c.str()
		if err != nil {
			return err
		}
		key := raw
		if escaped {
			key = c.unescape(raw)
		}
		if err := c.unique(key, base, &seen, keyAt); err != nil {
			return err
		}
		f := fieldIndex(key)
		if f >= 0 {
			if fields&(1<<f) != 0 {
				c.i = keyAt
				return c.fail(StrictDuplicateKey, "key %q repeats a field that differs only in case", wireFields[f])
			}
			fields |= 1 << f
		}
		c.ws()
		if c.i >= len(c.b) || c.b[c.i] != ':' {
			return c.fail(StrictSyntax, "expected ':' after object key")
		}
		c.i++
		c.ws()
		child := placeNone
		switch {
		case pl == placeTop && (f == fieldMessages || f == fieldInput):
			child = placeMessages
		case pl == placeMessage && f == fieldContent:
			child = placeParts
		}
		if err := c.value(depth+1, child); err != nil {
			return err
		}
		c.ws()
		if c.i >= len(c.b) {
			return c.fail(StrictSyntax, "unexpected end of JSON")
		}
		switch c.b[c.i] {
		case ',':
			c.i++
		case '}':
			c.i++
			return nil
		default:
			return c.fail(StrictSyntax, "expected ',' or '}' in object")
		}
	}
}

// unique records key for the object whose keys start at base and fails if
// it is already there. Small objects compare linearly; large ones switch
// to a map so that a body of many keys stays linear.
func (c *checker) unique(key []byte, base int, seen *map[string]struct{}, at int) error {
	const linear = 16
	n := len(c.keys) - base
	dup := false
	switch {
	case *seen != nil:
		_, dup = (*seen)[string(key)]
		if !dup {
			(*seen)[string(key)] = struct{}{}
		}
	default:
		for _, k := range c.keys[base:] {
			if string(k) == string(key) {
				dup = true
				break
			}
		}
		if !dup && n+1 > linear {
			m := make(map[string]struct{}, 2*linear)
			for _, k := range c.keys[base:] {
				m[string(k)] = struct{}{}
			}
			m[string(key)] = struct{}{}
			*seen = m
		}
	}
	if dup {
		c.i = at
		return c.fail(StrictDuplicateKey, "duplicate key %q", truncateKey(key))
	}
	c.keys = append(c.keys, key)
	return nil
}

func truncateKey(k []byte) string {
	const max = 64
	if len(k) > max {
		return strings.ToValidUTF8(string(k[:max]), "") + "..."
	}
	return string(k)
}

// unescape decodes a key that str already validated (so it cannot fail,
// and holds no lone surrogate or invalid UTF-8 for Unquote to replace).
// It returns a fresh slice (escaped keys are rare; the copy keeps c.keys
// stable).
func (c *checker) unescape(raw []byte) []byte {
	out, _ := jsonlex.Unquote(make([]byte, 0, len(raw)), raw)
	return out
}

func (c *checker) array(depth int, pl place) error {
	if depth > c.lim.MaxDepth {
		return c.fail(StrictDepth, "JSON nested deeper than %d levels", c.lim.MaxDepth)
	}
	c.i++ // [
	elem := placeNone
	if pl == placeMessages {
		elem = placeMessage
	}
	c.ws()
	if c.i < len(c.b) && c.b[c.i] == ']' {
		c.i++
		return nil
	}
	for {
		c.ws()
		switch pl {
		case placeMessages:
			c.messages++
			if c.lim.MaxMessages > 0 && c.messages > c.lim.MaxMessages {
				return c.fail(StrictMessages, "more than %d messages", c.lim.MaxMessages)
			}
		case placeParts:
			c.parts++
			if c.lim.MaxParts > 0 && c.parts > c.lim.MaxParts {
				return c.fail(StrictParts, "more than %d content parts", c.lim.MaxParts)
			}
		}
		if err := c.value(depth+1, elem); err != nil {
			return err
		}
		c.ws()
		if c.i >= len(c.b) {
			return c.fail(StrictSyntax, "unexpected end of JSON")
		}
		switch c.b[c.i] {
		case ',':
			c.i++
		case ']':
			c.i++
			return nil
		default:
			return c.fail(StrictSyntax, "expected ',' or ']' in array")
		}
	}
}

// wireFields are the keys the gateway decodes into Go structs, where
// encoding/json matches names case-insensitively. Two keys in one object
// that fold to the same entry would be read differently by the gateway and
// by a case-sensitive upstream.
var wireFields = [...]string{
	"model", "messages", "prompt", "suffix", "input", "instructions",
	"stream", "stream_options", "include_usage", "max_tokens",
	"max_completion_tokens", "max_output_tokens", "role", "type", "content",
	"output", "text", "image_url", "url", "file_url", "file", "file_data",
	"audio_url",
}

const (
	fieldMessages = 1
	fieldInput    = 4
	fieldContent  = 14
)

// fieldIndex returns the index in wireFields that key folds to, or -1.
func fieldIndex(key []byte) int {
	if len(key) < 3 || len(key) > 3*len("max_completion_tokens") {
		return -1
	}
	ascii := true
	for _, ch := range key {
		if ch >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	for i, f := range wireFields {
		if ascii {
			if len(key) == len(f) && asciiFold(key, f) {
				return i
			}
			continue
		}
		// Unicode letters that fold to ASCII (U+212A KELVIN SIGN to k,
		// U+017F LONG S to s) match too, as in encoding/json.
		if strings.EqualFold(string(key), f) {
			return i
		}
	}
	return -1
}

// asciiFold compares an ASCII key with a lowercase field name.
func asciiFold(key []byte, lower string) bool {
	for i, ch := range key {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != lower[i] {
			return false
		}
	}
	return true
}
