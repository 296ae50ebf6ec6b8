// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"strconv"
	"unicode/utf8"

	"github.com/bulwarkai/bulwark/internal/jsonlex"
)

// scanner is a small single-pass JSON reader, written by hand because
// encoding/json's reflection costs tens of microseconds on a chat body and
// Parse runs on every request. It reads only what Bulwark needs and skips
// the rest; it never panics and reports syntax errors with their offset.
// Keys are compared after unescaping, so "mod\u0065l" is "model" here as
// it is to the upstream.
type scanner struct {
	b     []byte
	i     int
	depth int
}

const maxScanDepth = 1000

func (s *scanner) errf(what string) error {
	return malformed("invalid JSON at byte %d: %s", s.i, what)
}

func (s *scanner) ws() { s.i = jsonlex.SkipSpace(s.b, s.i) }

// peek returns the next significant byte without consuming it (0 at EOF).
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) consume(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// foldKey lower-cases a key the way Go's encoding/json matches field
// names (ASCII case, plus U+017F ſ as s and U+212A K as k). Upstreams built
// on encoding/json (Ollama, for one) accept "Content" for "content"; so
// must the gateway, or text could reach them unscanned.
func foldKey(key []byte) []byte {
	clean := true
	for _, c := range key {
		if c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return key
	}
	out := make([]byte, 0, len(key))
	for i := 0; i < len(key); {
		r, n := utf8.DecodeRune(key[i:])
		i += n
		switch {
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		case r == '\u017f':
			r = 's'
		case r == '\u212a':
			r = 'k'
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// object calls fn for each key (case-folded, see foldKey); fn must
// consume the value.
func (s *scanner) object(fn func(key []byte) error) error {
	if !s.consume('{') {
		return s.errf("expected object")
	}
	if s.depth++; s.depth > maxScanDepth {
		return s.errf("nesting too deep")
	}
	defer func() { s.depth-- }()
	if s.consume('}') {
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.errf("expected object key")
		}
		key, err := s.rawString(nil)
		if err != nil {
			return err
		}
		if !s.consume(':') {
			return s.errf("expected ':'")
		}
		if err := fn(foldKey(key)); err != nil {
			return err
		}
		if s.consume(',') {
			continue
		}
		if s.consume('}') {
			return nil
		}
		return s.errf("expected ',' or '}'")
	}
}

// array calls fn for each element; fn must consume it.
func (s *scanner) array(fn func(i int) error) error {
	if !s.consume('[') {
		return s.errf("expected array")
	}
	if s.depth++; s.depth > maxScanDepth {
		return s.errf("nesting too deep")
	}
	defer func() { s.depth-- }()
	if s.consume(']') {
		return nil
	}
	for n := 0; ; n++ {
		if err := fn(n); err != nil {
			return err
		}
		if s.consume(',') {
			continue
		}
		if s.consume(']') {
			return nil
		}
		return s.errf("expected ',' or ']'")
	}
}

// rawString reads a string value. Without escapes it returns a slice of
// the input (no copy); with escapes it decodes into dst.
func (s *scanner) rawString(dst []byte) ([]byte, error) {
	if !s.consume('"') {
		return nil, s.errf("expected string")
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, nil
		case c == '\\':
			return s.escapedString(append(dst, s.b[start:s.i]...))
		case c < 0x20:
			return nil, s.errf("control character in string")
		}
		s.i++
	}
	return nil, s.errf("unterminated string")
}

func (s *scanner) escapedString(out []byte) ([]byte, error) {
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, nil
		case c < 0x20:
			return nil, s.errf("control character in string")
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 < len(s.b) {
			if e, ok := jsonlex.Unescape(s.b[s.i+1]); ok {
				out = append(out, e)
				s.i += 2
				continue
			}
		}
		// \u, decoded as encoding/json does (a lone surrogate is U+FFFD)
		// so that the guards read the text the upstream will.
		var ok bool
		if out, s.i, ok = jsonlex.AppendEscape(out, s.b, s.i); !ok {
			return nil, s.escapeErr()
		}
	}
	return nil, s.errf("unterminated string")
}

// escapeErr describes the bad escape at s.i, with the offsets Parse has
// always reported: the backslash if the input ends there, else just past
// the escape's letter.
func (s *scanner) escapeErr() error {
	if s.i+1 >= len(s.b) {
		return s.errf("unterminated string")
	}
	e := s.b[s.i+1]
	s.i += 2
	if e == 'u' {
		return s.errf("invalid \\u escape")
	}
	return s.errf("invalid escape")
}

// str reads a string value into a new Go string.
func (s *scanner) str() (string, error) {
	v, err := s.rawString(nil)
	return string(v), err
}

// integer reads a JSON number that must be an integer.
func (s *scanner) integer() (int64, error) {
	s.ws()
	start := s.i
	if err := s.number(); err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
	if err != nil {
		return 0, malformed("invalid JSON at byte %d: expected an integer", start)
	}
	return n, nil
}

func (s *scanner) number() error {
	end, ok := jsonlex.Number(s.b, s.i)
	s.i = end
	if !ok {
		return s.errf("invalid number")
	}
	return nil
}

func (s *scanner) literal(word string) error {
	if jsonlex.Literal(s.b, s.i, word) {
		s.i += len(word)
		return nil
	}
	return s.errf("invalid literal")
}

// boolean reads true or false.
func (s *scanner) boolean() (bool, error) {
	switch s.peek() {
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	}
	return false, s.errf("expected a boolean")
}

// skip consumes any value.
func (s *scanner) skip() error {
	switch c := s.peek(); {
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		return s.array(func(int) error { return s.skip() })
	case c == '"':
		_, err := s.rawString(nil)
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return s.errf("expected a value")
}

// null consumes a null if one is next.
func (s *scanner) null() bool {
	if s.peek() == 'n' && s.literal("null") == nil {
		return true
	}
	return false
}

// end checks that nothing but whitespace follows the document.
func (s *scanner) end() error {
	if s.peek() != 0 {
		return s.errf("data after the JSON value")
	}
	return nil
}
