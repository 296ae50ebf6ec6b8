// SPDX-License-Identifier: Apache-2.0

package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func guardsDoc(guards string) string {
	var b strings.Builder
	b.WriteString("upstreams: [{name: u, endpoints: ['http://127.0.0.1:1']}]\nroutes:\n  - name: r\n    pathPrefix: /v1/\n    upstream: u\n    anonymous: true\n    guards:\n")
	for _, line := range strings.Split(strings.TrimSpace(guards), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}

func TestGuardsDefaults(t *testing.T) {
	cfg, err := Parse([]byte(guardsDoc(`
input:
  - detector: promptInjection
    action: block
  - detector: patterns
    action: redact
    words: [nightfall]
  - detector: remote
    action: detect
    remote: {url: "http://guard:8000/v1/moderations"}
output:
  - detector: pii
    action: redact
`)))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	got := cfg.Routes[0].Guards
	want := &Guards{
		MaxResponseBytes: DefaultGuardMaxResponseBytes,
		Input: []Guard{
			{Name: "promptInjection", Detector: DetectorPromptInjection, Action: GuardBlock},
			{Name: "patterns", Detector: DetectorPatterns, Action: GuardRedact, Words: []string{"nightfall"}, MaxMatchBytes: DefaultGuardMaxMatchBytes},
			{Name: "remote", Detector: DetectorRemote, Action: GuardDetect, Remote: &RemoteGuard{
				Kind: RemoteModeration, URL: "http://guard:8000/v1/moderations", Timeout: DefaultRemoteGuardTimeout, FailureMode: "closed"}},
		},
		Output: []Guard{{Name: "pii", Detector: DetectorPII, Action: GuardRedact}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("guards after defaults (-want +got):\n%s", diff)
	}
}

func TestGuardsValidate(t *testing.T) {
	tests := []struct {
		name   string
		guards string
		want   []string // substrings of the error, each with its field path
	}{
		{name: "unknown detector", guards: "input:\n  - detector: magic\n    action: block",
			want: []string{`routes[0].guards.input[0].detector: unknown detector "magic"`}},
		{name: "missing action", guards: "input:\n  - detector: pii",
			want: []string{"routes[0].guards.input[0].action: is required"}},
		{name: "mask on output", guards: "output:\n  - detector: pii\n    action: mask",
			want: []string{`routes[0].guards.output[0].action: "mask" not allowed for pii`, "mask applies to input"}},
		{name: "redact injection", guards: "input:\n  - detector: promptInjection\n    action: redact",
			want: []string{`routes[0].guards.input[0].action: "redact" not allowed for promptInjection (want block|detect)`}},
		{name: "injection on output", guards: "output:\n  - detector: promptInjection\n    action: block",
			want: []string{"routes[0].guards.output[0].detector: promptInjection runs on input only"}},
		{name: "bad role and threshold", guards: "input:\n  - detector: promptInjection\n    action: block\n    roles: [user, robot]\n    threshold: 1.5",
			want: []string{`routes[0].guards.input[0].roles[1]: unknown role "robot"`, "routes[0].guards.input[0].threshold: 1.5 out of range"}},
		{name: "bad regex", guards: "input:\n  - detector: patterns\n    action: block\n    patterns: [{name: id, regex: '('}, {name: EMPTY, regex: 'a*'}]",
			want: []string{"routes[0].guards.input[0].patterns[0].name", "routes[0].guards.input[0].patterns[0].regex: error parsing regexp", "patterns[1].regex: \"a*\" matches the empty string"}},
		{name: "patterns without any", guards: "input:\n  - detector: patterns\n    action: block",
			want: []string{"routes[0].guards.input[0]: a patterns guard needs patterns or words"}},
		{name: "duplicate names", guards: "input:\n  - detector: pii\n    action: block\n  - detector: pii\n    action: detect",
			want: []string{`routes[0].guards.input[1].name: "pii" is also the name of routes[0].guards.input[0]`}},
		{name: "remote missing settings", guards: "input:\n  - detector: remote\n    action: block",
			want: []string{"routes[0].guards.input[0].remote: is required"}},
		{name: "remote bad settings", guards: "input:\n  - detector: remote\n    action: block\n    remote: {kind: judge, url: 'ftp://x', failureMode: maybe}",
			want: []string{`remote.url: scheme "ftp" not allowed`, "remote.model: is required for kind judge", `remote.failureMode: "maybe" not allowed (want open|closed)`}},
		{name: "entities on code", guards: "output:\n  - detector: code\n    action: block\n    entities: [EMAIL]",
			want: []string{"routes[0].guards.output[0].entities: applies to pii and secrets only"}},
		{name: "negative hold-back", guards: "unsafeStreamHoldBack: -1\ninput:\n  - detector: pii\n    action: block",
			want: []string{"routes[0].guards.unsafeStreamHoldBack: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(guardsDoc(tt.guards)))
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want %q", tt.guards, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse error = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}
