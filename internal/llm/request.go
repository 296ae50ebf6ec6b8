// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// wire is the subset of all four request shapes that Bulwark reads. One
// struct serves every API so that decoding is a single pass.
type wire struct {
	Model               *string         `json:"model"`
	Messages            []wireMessage   `json:"messages"`
	Prompt              json.RawMessage `json:"prompt"`
	Suffix              *string         `json:"suffix"`
	Input               json.RawMessage `json:"input"`
	Instructions        *string         `json:"instructions"`
	Stream              *bool           `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	MaxOutputTokens     *int            `json:"max_output_tokens"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type wireMessage struct {
	Role    string          `json:"role"`
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
	// Output is a Responses API function_call_output item: a tool result.
	Output json.RawMessage `json:"output"`
}

type wirePart struct {
	Type     string          `json:"type"`
	Text     *string         `json:"text"`
	ImageURL json.RawMessage `json:"image_url"`
	FileURL  *string         `json:"file_url"`
	File     *struct {
		FileURL  *string `json:"file_url"`
		FileData *string `json:"file_data"`
	} `json:"file"`
	AudioURL *string `json:"audio_url"`
}

// Parse decodes an LLM request body for api. It never panics on any input
// (fuzzed) and returns an error wrapping ErrMalformed for anything that is
// not a well-formed request of that API.
func Parse(api API, body []byte) (*Request, error) {
	r := &Request{API: api}
	if err := r.parse(body); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Request) parse(body []byte) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return malformed("body must be a JSON object")
	}
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		return malformed("%s", jsonErr(err))
	}
	if w.Model == nil || *w.Model == "" {
		return malformed("missing required field \"model\"")
	}
	r.Model = *w.Model
	if w.Stream != nil {
		r.Stream = *w.Stream
	}
	if w.StreamOptions != nil {
		r.IncludeUsage = w.StreamOptions.IncludeUsage
	}
	for _, p := range []*int{w.MaxTokens, w.MaxCompletionTokens, w.MaxOutputTokens} {
		if p != nil {
			if *p < 0 {
				return malformed("max tokens must not be negative")
			}
			if *p > 0 && (r.MaxTokens == 0 || *p < r.MaxTokens) {
				r.MaxTokens = *p
			}
		}
	}

	switch r.API {
	case APIChat:
		if w.Messages == nil {
			return malformed("missing required field \"messages\"")
		}
		r.Messages = len(w.Messages)
		for i := range w.Messages {
			m := &w.Messages[i]
			if err := r.content(m.Role, fmt.Sprintf("messages[%d].content", i), m.Content); err != nil {
				return err
			}
		}
	case APICompletions:
		if w.Prompt == nil {
			return malformed("missing required field \"prompt\"")
		}
		if err := r.stringsOrTokens("prompt", w.Prompt); err != nil {
			return err
		}
		if w.Suffix != nil {
			r.addText("", "suffix", *w.Suffix)
		}
	case APIEmbeddings:
		if w.Input == nil {
			return malformed("missing required field \"input\"")
		}
		if err := r.stringsOrTokens("input", w.Input); err != nil {
			return err
		}
	case APIResponses:
		if w.Instructions != nil {
			r.addText("system", "instructions", *w.Instructions)
		}
		if w.Input == nil {
			return malformed("missing required field \"input\"")
		}
		if err := r.responsesInput(w.Input); err != nil {
			return err
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

// content handles a message content: a string, null, or an array of parts.
func (r *Request) content(role, field string, raw json.RawMessage) error {
	switch kind(raw) {
	case 0, 'n':
		return nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return malformed("%s: %s", field, jsonErr(err))
		}
		r.addText(role, field, s)
		return nil
	case '[':
		var parts []wirePart
		if err := json.Unmarshal(raw, &parts); err != nil {
			return malformed("%s: %s", field, jsonErr(err))
		}
		r.Parts += len(parts)
		for j := range parts {
			if err := r.part(role, fmt.Sprintf("%s[%d]", field, j), &parts[j]); err != nil {
				return err
			}
		}
		return nil
	}
	return malformed("%s must be a string or an array of parts", field)
}

func (r *Request) part(role, field string, p *wirePart) error {
	if p.Text != nil {
		r.addText(role, field+".text", *p.Text)
	}
	switch kind(p.ImageURL) {
	case '"': // Responses API: "image_url": "https://..."
		var s string
		if err := json.Unmarshal(p.ImageURL, &s); err == nil {
			r.Media = append(r.Media, Media{Field: field + ".image_url", URL: s})
		}
	case '{': // Chat API: "image_url": {"url": "https://..."}
		var o struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal(p.ImageURL, &o); err != nil {
			return malformed("%s.image_url: %s", field, jsonErr(err))
		}
		r.Media = append(r.Media, Media{Field: field + ".image_url.url", URL: o.URL})
	case 0, 'n':
	default:
		return malformed("%s.image_url must be a string or object", field)
	}
	if p.FileURL != nil {
		r.Media = append(r.Media, Media{Field: field + ".file_url", URL: *p.FileURL})
	}
	if p.File != nil && p.File.FileURL != nil {
		r.Media = append(r.Media, Media{Field: field + ".file.file_url", URL: *p.File.FileURL})
	}
	if p.AudioURL != nil {
		r.Media = append(r.Media, Media{Field: field + ".audio_url", URL: *p.AudioURL})
	}
	return nil
}

// stringsOrTokens handles prompt/input: a string, an array of strings, an
// array of token ids, or an array of token-id arrays.
func (r *Request) stringsOrTokens(field string, raw json.RawMessage) error {
	switch kind(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return malformed("%s: %s", field, jsonErr(err))
		}
		r.addText("", field, s)
		return nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return malformed("%s: %s", field, jsonErr(err))
		}
		for i, it := range items {
			f := fmt.Sprintf("%s[%d]", field, i)
			switch kind(it) {
			case '"':
				var s string
				if err := json.Unmarshal(it, &s); err != nil {
					return malformed("%s: %s", f, jsonErr(err))
				}
				r.addText("", f, s)
			case '0':
				r.TokenInputs++
			case '[':
				var toks []int64
				if err := json.Unmarshal(it, &toks); err != nil {
					return malformed("%s must be an array of token ids", f)
				}
				r.TokenInputs += len(toks)
			default:
				return malformed("%s must be a string or token ids", f)
			}
		}
		return nil
	}
	return malformed("%s must be a string or an array", field)
}

// responsesInput handles the Responses API input: a string or an array of
// items (messages, function call outputs, ...).
func (r *Request) responsesInput(raw json.RawMessage) error {
	switch kind(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return malformed("input: %s", jsonErr(err))
		}
		r.addText("user", "input", s)
		return nil
	case '[':
		var items []wireMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return malformed("input: %s", jsonErr(err))
		}
		r.Messages = len(items)
		for i := range items {
			it := &items[i]
			f := fmt.Sprintf("input[%d]", i)
			if it.Type == "function_call_output" || it.Output != nil {
				if err := r.content("tool", f+".output", it.Output); err != nil {
					return err
				}
				continue
			}
			role := it.Role
			if role == "" {
				role = "user"
			}
			if err := r.content(role, f+".content", it.Content); err != nil {
				return err
			}
		}
		return nil
	}
	return malformed("input must be a string or an array")
}

// kind returns the first significant byte of a JSON value: '"', '[', '{',
// 'n' (null), 't'/'f' (bool), '0' (number), or 0 when absent.
func kind(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	switch c := raw[0]; c {
	case '"', '[', '{', 'n', 't', 'f':
		return c
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return '0'
	}
	return '?'
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
