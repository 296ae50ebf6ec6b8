// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

var parseCases = []struct {
	name string
	api  API
	body string
	want *Request
	bad  bool
}{
	{"chat string content", APIChat, `{"model":"m","messages":[{"role":"system","content":"be nice"},{"role":"user","content":"hi"}],"max_tokens":50}`,
		&Request{API: APIChat, Model: "m", MaxTokens: 50, Messages: 2, Texts: []Text{{"system", "messages[0].content", "be nice"}, {"user", "messages[1].content", "hi"}}}, false},
	{"chat parts and image", APIChat, `{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":9,"messages":[{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"http://169.254.169.254/x"}}]}]}`,
		&Request{API: APIChat, Model: "m", Stream: true, IncludeUsage: true, MaxTokens: 9, Messages: 1, Parts: 2,
			Texts: []Text{{"user", "messages[0].content[0].text", "what is this"}}, Media: []Media{{"messages[0].content[1].image_url.url", "http://169.254.169.254/x"}}}, false},
	{"chat tool result", APIChat, `{"model":"m","messages":[{"role":"tool","tool_call_id":"1","content":"doc text"},{"role":"assistant","content":null,"tool_calls":[]}]}`,
		&Request{API: APIChat, Model: "m", Messages: 2, Texts: []Text{{"tool", "messages[0].content", "doc text"}}}, false},
	{"completions string list and tokens", APICompletions, `{"model":"m","prompt":["a","b",[1,2,3]],"suffix":"z"}`,
		&Request{API: APICompletions, Model: "m", TokenInputs: 3, Texts: []Text{{"", "prompt[0]", "a"}, {"", "prompt[1]", "b"}, {"", "suffix", "z"}}}, false},
	{"embeddings", APIEmbeddings, `{"model":"e","input":"hello"}`,
		&Request{API: APIEmbeddings, Model: "e", Texts: []Text{{"", "input", "hello"}}}, false},
	{"responses items", APIResponses, `{"model":"m","instructions":"sys","max_output_tokens":7,"input":[{"role":"user","content":[{"type":"input_text","text":"q"},{"type":"input_image","image_url":"https://x/y.png"}]},{"type":"function_call_output","call_id":"c","output":"tool says"}]}`,
		&Request{API: APIResponses, Model: "m", MaxTokens: 7, Messages: 2, Parts: 2,
			Texts: []Text{{"system", "instructions", "sys"}, {"user", "input[0].content[0].text", "q"}, {"tool", "input[1].output", "tool says"}},
			Media: []Media{{"input[0].content[1].image_url", "https://x/y.png"}}}, false},
	{"role after content and escaped keys", APIChat, `{"mod\u0065l":"m","messages":[{"cont\u0065nt":"caf\u00e9 \ud83d\ude00","role":"user"}]}`,
		&Request{API: APIChat, Model: "m", Messages: 1, Texts: []Text{{"user", "messages[0].content", "café 😀"}}}, false},
	{"trailing data", APIChat, `{"model":"m","messages":[]} {}`, nil, true},
	{"deep nesting", APIChat, `{"model":"m","messages":[],"x":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`, nil, true},
	{"not an object", APIChat, `["model"]`, nil, true},
	{"truncated", APIChat, `{"model":"m","messages":[`, nil, true},
	{"missing model", APIChat, `{"messages":[]}`, nil, true},
	{"missing messages", APIChat, `{"model":"m"}`, nil, true},
	{"content wrong type", APIChat, `{"model":"m","messages":[{"role":"user","content":5}]}`, nil, true},
	{"negative max tokens", APIChat, `{"model":"m","messages":[],"max_tokens":-1}`, nil, true},
	{"prompt object", APICompletions, `{"model":"m","prompt":{"a":1}}`, nil, true},
	{"empty", APIEmbeddings, ``, nil, true},
}

func TestParse(t *testing.T) {
	for _, tt := range parseCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.api, []byte(tt.body))
			if tt.bad {
				if err == nil || !errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse(%q) err = %v, want ErrMalformed", tt.body, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		method, path string
		want         API
	}{
		{"POST", "/v1/chat/completions", APIChat},
		{"POST", "/openai/v1/chat/completions/", APIChat},
		{"POST", "/v1/completions", APICompletions},
		{"POST", "/v1/embeddings", APIEmbeddings},
		{"POST", "/v1/responses", APIResponses},
		{"GET", "/v1/models", APIModels},
		{"GET", "/v1/models/llama", APIModels},
		{"GET", "/v1/chat/completions", APIUnknown},
		{"POST", "/v1/files", APIUnknown},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if got := Classify(tt.method, tt.path); got != tt.want {
				t.Errorf("Classify(%s, %s) = %v, want %v", tt.method, tt.path, got, tt.want)
			}
		})
	}
}

func TestRewrite(t *testing.T) {
	body := `{"model":"m","temperature":0.70000000001,"messages":[{"role":"user","content":[{"type":"text","text":"mail bob@x.io"}]}],"stream":true,"unknown_field":{"keep":[1,2]}}`
	r, err := Parse(APIChat, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Rewrite(APIChat, []byte(body), Edits{Texts: map[string]string{r.Texts[0].Field: "mail [EMAIL_1]"}, MaxTokens: 100, IncludeUsage: true})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if s := string(out); !strings.Contains(s, `"temperature":0.70000000001`) || !strings.Contains(s, `"unknown_field":{"keep":[1,2]}`) {
		t.Errorf("rewrite lost fields or number precision: %s", s)
	}
	again, err := Parse(APIChat, out)
	if err != nil {
		t.Fatal(err)
	}
	if again.Texts[0].Value != "mail [EMAIL_1]" || again.MaxTokens != 100 || !again.IncludeUsage {
		t.Errorf("rewritten request = %+v", again)
	}
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want Usage
		ok   bool
	}{
		{"chat", `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`, Usage{3, 5, true}, true},
		{"responses", `{"type":"response.completed","response":{"usage":{"input_tokens":4,"output_tokens":6}}}`, Usage{4, 6, true}, true},
		{"null usage", `{"choices":[{"delta":{"content":"x"}}],"usage":null}`, Usage{}, false},
		{"no usage", `{"choices":[]}`, Usage{}, false},
		{"broken", `{"usage":{"prompt_tokens":`, Usage{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := UsageFromJSON([]byte(tt.in))
			if ok != tt.ok || got != tt.want {
				t.Errorf("UsageFromJSON(%s) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseCases {
		f.Add(uint8(tt.api), []byte(tt.body))
	}
	f.Fuzz(func(t *testing.T, api uint8, body []byte) {
		a := API(api%5 + 1)
		if a == APIModels {
			a = APIChat
		}
		r, err := Parse(a, body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if r.Model == "" || r.MaxTokens < 0 {
			t.Fatalf("accepted request without model or with negative max tokens: %+v", r)
		}
		_ = r.PromptText()
	})
}

func FuzzRewrite(f *testing.F) {
	for _, tt := range parseCases {
		f.Add(uint8(tt.api), []byte(tt.body), "REDACTED")
	}
	f.Fuzz(func(t *testing.T, api uint8, body []byte, repl string) {
		a := API(api%4 + 1)
		r, err := Parse(a, body)
		if err != nil {
			return
		}
		edits := Edits{Texts: map[string]string{}, MaxTokens: 10, IncludeUsage: true}
		for _, tx := range r.Texts {
			edits.Texts[tx.Field] = repl
		}
		out, err := Rewrite(a, body, edits)
		if err != nil {
			t.Fatalf("Rewrite of a parsed body failed: %v", err)
		}
		again, err := Parse(a, out)
		if err != nil {
			t.Fatalf("rewritten body does not parse: %v\n%s", err, out)
		}
		for _, tx := range again.Texts {
			if tx.Value != repl && repl != "" && utf8.ValidString(repl) {
				t.Fatalf("text %s = %q after rewrite, want %q", tx.Field, tx.Value, repl)
			}
		}
	})
}

func FuzzUsage(f *testing.F) {
	f.Add([]byte(`{"usage":{"prompt_tokens":1,"completion_tokens":2}}`))
	f.Add([]byte(`{"choices":[{"delta":{"content":"a\"b"}}],"usage":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = UsageFromJSON(b)
		_ = IsUsageOnlyChunk(b)
		if n := EstimateDeltaTokens(b); n < 0 {
			t.Fatalf("negative estimate %d", n)
		}
	})
}

// FuzzParseDifferential checks Parse against encoding/json: every message
// text the standard library sees must be seen by Parse too, or a prompt
// could reach the upstream unscanned.
func FuzzParseDifferential(f *testing.F) {
	for _, tt := range parseCases {
		if tt.api == APIChat {
			f.Add([]byte(tt.body))
		}
	}
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"a"}],"messages":[{"role":"user","content":"b"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var ref struct {
			Model    string `json:"model"`
			Messages []struct {
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		// Invalid UTF-8 is refused by CheckStrict before Parse runs.
		if !utf8.Valid(body) || json.Unmarshal(body, &ref) != nil || ref.Model == "" || ref.Messages == nil {
			return
		}
		got, err := Parse(APIChat, body)
		if err != nil {
			return // stricter than encoding/json (e.g. depth): refused, not bypassed
		}
		seen := map[string]bool{}
		for _, tx := range got.Texts {
			seen[tx.Value] = true
		}
		for _, m := range ref.Messages {
			var s string
			if json.Unmarshal(m.Content, &s) == nil {
				if s != "" && !seen[s] && utf8.ValidString(s) {
					t.Fatalf("encoding/json sees text %q that Parse missed; Parse saw %q", s, got.Texts)
				}
				continue
			}
			var parts []struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(m.Content, &parts) == nil {
				for _, p := range parts {
					if p.Text != "" && !seen[p.Text] && utf8.ValidString(p.Text) {
						t.Fatalf("encoding/json sees part %q that Parse missed; Parse saw %q", p.Text, got.Texts)
					}
				}
			}
		}
	})
}

// TestRewriteCaseVariantKeys: Parse reads "Content" as content (as Go
// upstreams do), so Rewrite must replace the value under that very key, not
// add a second one beside the original.
func TestRewriteCaseVariantKeys(t *testing.T) {
	body := []byte(`{"model":"m","Messages":[{"role":"user","Content":"mail bob@x.io"}],"MAX_TOKENS":5000}`)
	r, err := Parse(APIChat, body)
	if err != nil || len(r.Texts) != 1 {
		t.Fatalf("Parse = %+v, %v", r, err)
	}
	out, err := Rewrite(APIChat, body, Edits{Texts: map[string]string{r.Texts[0].Field: "mail [EMAIL_1]"}, MaxTokens: 100})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); strings.Contains(s, "bob@x.io") || strings.Contains(s, "5000") {
		t.Errorf("rewrite left the original value beside the new one: %s", s)
	}
}
