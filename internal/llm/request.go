// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// API identifies which OpenAI-compatible operation a request is.
type API uint8

const (
	APIUnknown API = iota
	APIChat
	APICompletions
	APIEmbeddings
	APIResponses
	APIModels
)

var apiNames = [...]string{"unknown", "chat.completions", "completions", "embeddings", "responses", "models"}

func (a API) String() string {
	if int(a) < len(apiNames) {
		return apiNames[a]
	}
	return "unknown"
}

// HasBody reports whether the operation carries a JSON body to inspect.
func (a API) HasBody() bool { return a >= APIChat && a <= APIResponses }

// Classify maps a method and path to an API. Matching is on the path suffix
// so that prefixes such as /openai/v1 or /v1 both work.
func Classify(method, path string) API {
	path = strings.TrimSuffix(path, "/")
	switch {
	case method == "POST" && strings.HasSuffix(path, "/chat/completions"):
		return APIChat
	case method == "POST" && strings.HasSuffix(path, "/completions"):
		return APICompletions
	case method == "POST" && strings.HasSuffix(path, "/embeddings"):
		return APIEmbeddings
	case method == "POST" && strings.HasSuffix(path, "/responses"):
		return APIResponses
	case method == "GET" && (strings.HasSuffix(path, "/models") || strings.Contains(path, "/models/")):
		return APIModels
	}
	return APIUnknown
}

// Text is one piece of prompt text and where it came from.
type Text struct {
	// Role is the message role (user, system, developer, assistant, tool)
	// or "" for prompt/input fields that have none.
	Role string
	// Field is the JSON location, e.g. "messages[2].content[0].text".
	Field string
	Value string
}

// Media is a URL the upstream would fetch (image, file, audio).
type Media struct {
	Field string
	URL   string
}

// Request is what Bulwark learns from an LLM request body.
type Request struct {
	API   API
	Model string
	// Stream is true for server-sent-event responses.
	Stream bool
	// IncludeUsage is stream_options.include_usage as the client sent it.
	IncludeUsage bool
	// MaxTokens is max_tokens, max_completion_tokens or max_output_tokens;
	// 0 when the client set none.
	MaxTokens int
	// Messages counts chat messages or Responses input items.
	Messages int
	// Parts counts content parts across messages.
	Parts int
	// Texts are the prompt texts in document order.
	Texts []Text
	// Media are URLs in image/file/audio parts.
	Media []Media
	// TokenInputs counts pre-tokenized prompt/input tokens (arrays of ints).
	TokenInputs int
}

// ErrMalformed wraps every body the parser rejects; the gateway answers 400.
var ErrMalformed = errors.New("malformed request body")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Parse decodes an LLM request body for api in one pass. It never panics
// on any input (fuzzed) and returns an error wrapping ErrMalformed for
// anything that is not a well-formed request of that API.
func Parse(api API, body []byte) (*Request, error) {
	r := &Request{API: api}
	if err := r.parse(body); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Request) parse(body []byte) error {
	s := &scanner{b: body}
	if s.peek() != '{' {
		return malformed("body must be a JSON object")
	}
	var seen struct{ model, messages, prompt, input bool }
	err := s.object(func(key []byte) error {
		if s.null() {
			return nil
		}
		switch string(key) {
		case "model":
			v, err := s.str()
			r.Model, seen.model = v, v != ""
			return err
		case "stream":
			v, err := s.boolean()
			r.Stream = v
			return err
		case "stream_options":
			return s.object(func(k []byte) error {
				if string(k) == "include_usage" && !s.null() {
					v, err := s.boolean()
					r.IncludeUsage = v
					return err
				}
				return s.skip()
			})
		case "max_tokens", "max_completion_tokens", "max_output_tokens":
			n, err := s.integer()
			if err != nil {
				return err
			}
			if n < 0 {
				return malformed("max tokens must not be negative")
			}
			if n > 0 && (r.MaxTokens == 0 || int(n) < r.MaxTokens) {
				r.MaxTokens = int(min(n, 1<<31-1))
			}
			return nil
		case "messages":
			if r.API != APIChat {
				return s.skip()
			}
			seen.messages = true
			return s.array(func(i int) error {
				r.Messages++
				return r.message(s, "messages["+strconv.Itoa(i)+"]", "")
			})
		case "prompt":
			if r.API != APICompletions {
				return s.skip()
			}
			seen.prompt = true
			return r.stringsOrTokens(s, "prompt")
		case "suffix":
			if r.API != APICompletions {
				return s.skip()
			}
			v, err := s.str()
			r.addText("", "suffix", v)
			return err
		case "input":
			switch r.API {
			case APIEmbeddings:
				seen.input = true
				return r.stringsOrTokens(s, "input")
			case APIResponses:
				seen.input = true
				return r.responsesInput(s)
			}
			return s.skip()
		case "instructions":
			if r.API != APIResponses {
				return s.skip()
			}
			v, err := s.str()
			r.addText("system", "instructions", v)
			return err
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	if err := s.end(); err != nil {
		return err
	}
	if !seen.model {
		return malformed("missing required field \"model\"")
	}
	switch r.API {
	case APIChat:
		if !seen.messages {
			return malformed("missing required field \"messages\"")
		}
	case APICompletions:
		if !seen.prompt {
			return malformed("missing required field \"prompt\"")
		}
	case APIEmbeddings, APIResponses:
		if !seen.input {
			return malformed("missing required field \"input\"")
		}
	default:
		return malformed("unsupported API")
	}
	return nil
}

func (r *Request) addText(role, field, v string) {
	if v != "" {
		r.Texts = append(r.Texts, Text{Role: role, Field: field, Value: v})
	}
}

// message reads one chat message or Responses input item. Its role may
// come after its content, so roles are assigned once the object is read.
// defaultRole applies when the item names none (Responses API).
func (r *Request) message(s *scanner, field, defaultRole string) error {
	if s.peek() != '{' {
		return malformed("%s must be an object", field)
	}
	first := len(r.Texts)
	var role, typ string
	err := s.object(func(key []byte) error {
		if s.null() {
			return nil
		}
		var err error
		switch string(key) {
		case "role":
			role, err = s.str()
		case "type":
			typ, err = s.str()
		case "content":
			err = r.content(s, field+".content")
		case "output":
			if r.API != APIResponses {
				return s.skip()
			}
			typ = "function_call_output"
			err = r.content(s, field+".output")
		default:
			err = s.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	switch {
	case typ == "function_call_output":
		role = "tool"
	case role == "":
		role = defaultRole
	}
	for i := first; i < len(r.Texts); i++ {
		r.Texts[i].Role = role
	}
	return nil
}

// content reads a message content: a string, null, or an array of parts.
func (r *Request) content(s *scanner, field string) error {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '"':
		v, err := s.str()
		r.addText("", field, v)
		return err
	case '[':
		return s.array(func(j int) error {
			r.Parts++
			return r.part(s, field+"["+strconv.Itoa(j)+"]")
		})
	}
	return malformed("%s must be a string or an array of parts", field)
}

func (r *Request) part(s *scanner, field string) error {
	if s.peek() != '{' {
		return malformed("%s must be an object", field)
	}
	return s.object(func(key []byte) error {
		if s.null() {
			return nil
		}
		switch string(key) {
		case "text":
			v, err := s.str()
			r.addText("", field+".text", v)
			return err
		case "image_url":
			if s.peek() == '"' { // Responses API: "image_url": "https://..."
				v, err := s.str()
				r.Media = append(r.Media, Media{Field: field + ".image_url", URL: v})
				return err
			}
			return r.urlObject(s, field+".image_url")
		case "file_url", "audio_url":
			v, err := s.str()
			r.Media = append(r.Media, Media{Field: field + "." + string(key), URL: v})
			return err
		case "file":
			return r.urlObject(s, field+".file")
		}
		return s.skip()
	})
}

// urlObject reads {"url": ...} or {"file_url": ...}, recording the URL.
func (r *Request) urlObject(s *scanner, field string) error {
	if s.peek() != '{' {
		return malformed("%s must be a string or an object", field)
	}
	return s.object(func(key []byte) error {
		switch k := string(key); k {
		case "url", "file_url":
			if s.null() {
				return nil
			}
			v, err := s.str()
			r.Media = append(r.Media, Media{Field: field + "." + k, URL: v})
			return err
		}
		return s.skip()
	})
}

// stringsOrTokens reads prompt/input: a string, an array of strings, an
// array of token ids, or an array of token-id arrays.
func (r *Request) stringsOrTokens(s *scanner, field string) error {
	switch s.peek() {
	case '"':
		v, err := s.str()
		r.addText("", field, v)
		return err
	case '[':
		return s.array(func(i int) error {
			f := field + "[" + strconv.Itoa(i) + "]"
			switch c := s.peek(); {
			case c == '"':
				v, err := s.str()
				r.addText("", f, v)
				return err
			case c == '-' || (c >= '0' && c <= '9'):
				r.TokenInputs++
				_, err := s.integer()
				return err
			case c == '[':
				return s.array(func(int) error {
					r.TokenInputs++
					_, err := s.integer()
					return err
				})
			}
			return malformed("%s must be a string or token ids", f)
		})
	}
	return malformed("%s must be a string or an array", field)
}

// responsesInput reads the Responses API input: a string or an array of
// items (messages, function call outputs, ...).
func (r *Request) responsesInput(s *scanner) error {
	switch s.peek() {
	case '"':
		v, err := s.str()
		r.addText("user", "input", v)
		return err
	case '[':
		return s.array(func(i int) error {
			r.Messages++
			return r.message(s, "input["+strconv.Itoa(i)+"]", "user")
		})
	}
	return malformed("input must be a string or an array")
}

// jsonErr shortens encoding/json errors for clients: the type names of our
// wire structs mean nothing to them.
func jsonErr(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		if ute.Field != "" {
			return fmt.Sprintf("field %q has the wrong type (got %s)", ute.Field, ute.Value)
		}
		return fmt.Sprintf("wrong type (got %s)", ute.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	return err.Error()
}

// PromptText joins every prompt text, for guards and logging.
func (r *Request) PromptText() string {
	switch len(r.Texts) {
	case 0:
		return ""
	case 1:
		return r.Texts[0].Value
	}
	var b strings.Builder
	for i, t := range r.Texts {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(t.Value)
	}
	return b.String()
}
