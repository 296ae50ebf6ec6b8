// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"sort"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/llm"
)

type recordArgs []string

func (r *recordArgs) AddPostRequestArgument(k, v string) { *r = append(*r, k+"="+v) }

var walkCases = []struct {
	name string
	api  llm.API
	body string
}{
	{"chat string content", llm.APIChat, `{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi \"there\" \u00e9"}],"temperature":0.2,"stream":true,"stop":null}`},
	{"chat parts", llm.APIChat, `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"describe"},{"type":"image_url","image_url":{"url":"https://x.example/a.png","detail":"low"}},{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}},{"type":"file","file":{"file_data":"BBBB","filename":"a.pdf"}}]}]}`},
	{"chat tools", llm.APIChat, `{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"q\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"result text"}],"tools":[{"type":"function","function":{"name":"f","description":"does f","parameters":{"type":"object","properties":{"q":{"type":"integer","description":"the q"}},"required":["q"]}}}],"metadata":{"k\u0065y":"v"}}`},
	{"completions", llm.APICompletions, `{"model":"m","prompt":["one","two"],"suffix":"end","max_tokens":5,"logit_bias":{"50256":-100}}`},
	{"completions tokens", llm.APICompletions, `{"model":"m","prompt":[[1,2,3]],"echo":false}`},
	{"embeddings tokens", llm.APIEmbeddings, `{"model":"m","input":[1,2,3]}`},
	{"embeddings", llm.APIEmbeddings, `{"model":"m","input":"text to embed","encoding_format":"float","dimensions":256}`},
	{"responses", llm.APIResponses, `{"model":"m","instructions":"be kind","input":[{"role":"user","content":[{"type":"input_text","text":"hello"},{"type":"input_image","image_url":"https://x.example/i.png"}]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"42"}],"tools":[{"type":"function","name":"f","description":"d","parameters":{"type":"object"}}],"text":{"format":{"type":"json_schema","name":"s","schema":{"type":"object","description":"x"}}}}`},
}

// TestWalkMatchesCorazaJSON checks that with prompts included the walk
// feeds CRS what Coraza's own JSON body processor would (less the
// array-length entries that processor adds).
func TestWalkMatchesCorazaJSON(t *testing.T) {
	s := mustStage(t, config.WAF{Mode: "detect"}, nil)
	for _, tc := range walkCases {
		t.Run(tc.name, func(t *testing.T) {
			var got recordArgs
			if _, _, err := walkJSON([]byte(tc.body), tc.api, true, &got); err != nil {
				t.Fatal(err)
			}
			tx := s.eng.waf.NewTransaction()
			defer tx.Close()
			tx.ProcessURI("/post", "POST", "HTTP/1.1")
			tx.AddRequestHeader("Content-Type", "application/json")
			tx.ProcessRequestHeaders()
			if _, _, err := tx.WriteRequestBody([]byte(tc.body)); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ProcessRequestBody(); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, md := range tx.(plugintypes.TransactionState).Variables().ArgsPost().FindAll() {
				want = append(want, md.Key()+"="+md.Value())
			}
			sort.Strings(got)
			sort.Strings(want)
			want = dropArrayLengths(want, got)
			if diff := cmp.Diff(want, []string(got)); diff != "" {
				t.Errorf("walk ARGS differ from Coraza's JSON processor (-coraza +walk):\n%s", diff)
			}
		})
	}
}

// dropArrayLengths removes Coraza's "json.a=N" entries for arrays, which
// the walk does not produce (they carry no client text).
func dropArrayLengths(want, got []string) []string {
	var out []string
	for _, w := range want {
		k, _, _ := strings.Cut(w, "=")
		isArray := false
		for _, g := range got {
			if strings.HasPrefix(g, k+".0") {
				isArray = true
				break
			}
		}
		if !isArray {
			out = append(out, w)
		}
	}
	return out
}

// TestWalkSkipsEveryPromptText checks that AI-aware mode hides from CRS
// every text the guardrails inspect.
func TestWalkSkipsEveryPromptText(t *testing.T) {
	for _, tc := range walkCases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := llm.Parse(tc.api, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			var got recordArgs
			if _, _, err := walkJSON([]byte(tc.body), tc.api, false, &got); err != nil {
				t.Fatal(err)
			}
			keys := map[string]bool{}
			for _, kv := range got {
				k, _, _ := strings.Cut(kv, "=")
				keys[k] = true
			}
			for _, txt := range req.Texts {
				k := "json." + strings.NewReplacer("[", ".", "]", "").Replace(txt.Field)
				if keys[k] {
					t.Errorf("prompt field %s (%q) reaches CRS", txt.Field, txt.Value)
				}
			}
			for _, m := range req.Media {
				k := "json." + strings.NewReplacer("[", ".", "]", "").Replace(m.Field)
				if keys[k] {
					t.Errorf("media field %s reaches CRS", m.Field)
				}
			}
		})
	}
}

func TestWalkAIAwareArgs(t *testing.T) {
	var got recordArgs
	if _, _, err := walkJSON([]byte(walkCases[2].body), llm.APIChat, false, &got); err != nil {
		t.Fatal(err)
	}
	want := recordArgs{
		"json.model=m",
		"json.messages.0.role=assistant",
		"json.messages.0.content=",
		"json.messages.0.tool_calls.0.id=c1",
		"json.messages.0.tool_calls.0.type=function",
		"json.messages.0.tool_calls.0.function.name=f",
		"json.messages.1.role=tool",
		"json.messages.1.tool_call_id=c1",
		"json.tools.0.type=function",
		"json.tools.0.function.name=f",
		"json.tools.0.function.parameters.type=object",
		"json.tools.0.function.parameters.properties.q.type=integer",
		"json.tools.0.function.parameters.required.0=q",
		"json.metadata.key=v",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AI-aware ARGS (-want +got):\n%s", diff)
	}
}

func TestWalkMalformed(t *testing.T) {
	for _, body := range []string{``, `{`, `{"a"`, `{"a":}`, `{"a":1,}`, `[1,`, `{"a":"\u12"}`, `{"a":tru}`, `"unterminated`, `{"a" 1}`} {
		t.Run(body, func(t *testing.T) {
			var got recordArgs
			if _, _, err := walkJSON([]byte(body), llm.APIChat, false, &got); err == nil {
				t.Errorf("walkJSON(%q) = nil error, want errWalk", body)
			}
		})
	}
}

func FuzzWalkJSON(f *testing.F) {
	for _, tc := range walkCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got recordArgs
		_, _, _ = walkJSON(body, llm.APIChat, false, &got)
		_, _, _ = walkJSON(body, llm.APIResponses, true, &got)
	})
}

func TestWalkSkipsTokenIDs(t *testing.T) {
	body := `{"model":"m","prompt":[` + strings.Repeat("50256,", 5000) + `1],"max_tokens":3}`
	var got recordArgs
	args, skipped, err := walkJSON([]byte(body), llm.APICompletions, false, &got)
	if err != nil {
		t.Fatal(err)
	}
	if args != 2 || skipped != 5001 {
		t.Errorf("walk of a 5001-token prompt fed %d args and skipped %d, want 2 and 5001 (%v)", args, skipped, got)
	}
}
