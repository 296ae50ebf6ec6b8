// SPDX-License-Identifier: Apache-2.0

package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Guards are the guardrails of one route, on prompts and on outputs. See
// docs/guardrails.md.
type Guards struct {
	// Input guards scan every prompt text (messages, prompt, input,
	// instructions, tool results) before the request is forwarded.
	Input []Guard `json:"input,omitempty"`
	// Output guards scan the model's text (message content, refusals,
	// reasoning, tool-call arguments) before it reaches the client,
	// streamed responses included.
	Output []Guard `json:"output,omitempty"`
	// UnsafeAllowUnscanned forwards what the guards cannot read: bodies of
	// passthrough requests, pre-tokenized prompts, and passthrough or
	// non-JSON responses. Off by default: with input guards such requests
	// are refused (403), with output guards such responses are replaced by
	// an error, because an unread body is an unguarded one.
	UnsafeAllowUnscanned bool `json:"unsafeAllowUnscanned,omitempty"`
	// UnsafeStreamHoldBack caps, in bytes, how much streamed text is held
	// back while output guards decide. Default 0: hold back the widest
	// window of the output detectors (512 bytes for pii, about 12 KB for
	// secrets, whose PEM keys and JWTs are long), which guarantees that no
	// part of a value a detector finds in the full text reaches the
	// client. A smaller value lowers time to first token but lets the
	// start of a value longer than the cap through before it is
	// recognised.
	UnsafeStreamHoldBack int `json:"unsafeStreamHoldBack,omitempty"`
	// MaxResponseBytes bounds a non-streamed response read whole for the
	// output guards (502 above it). Default 8 MiB.
	MaxResponseBytes int64 `json:"maxResponseBytes,omitempty"`
}

// Detectors a guard can run.
const (
	DetectorPromptInjection = "promptInjection"
	DetectorPII             = "pii"
	DetectorSecrets         = "secrets"
	DetectorCode            = "code"
	DetectorPatterns        = "patterns"
	DetectorRemote          = "remote"
)

// Guard actions.
const (
	GuardBlock  = "block"
	GuardRedact = "redact"
	GuardMask   = "mask"
	GuardDetect = "detect"
)

// Message roles a guard can be limited to. RolePrompt names texts without
// a role: the completions prompt and suffix and the embeddings input.
var guardRoles = []string{"system", "developer", "user", "assistant", "tool", "prompt"}

// Guard runs one detector with one action.
type Guard struct {
	// Name labels the guard in the audit line, logs and metrics. Default:
	// the detector name; two guards of one direction need distinct names.
	Name string `json:"name,omitempty"`
	// Detector is promptInjection, pii, secrets, code, patterns or remote.
	Detector string `json:"detector"`
	// Action is block (403), redact (replace values with placeholders such
	// as [EMAIL_1]), mask (input only: redact, then put the originals back
	// into the response to the client) or detect (log and count only).
	// promptInjection, code and remote support block and detect.
	Action string `json:"action"`
	// Roles limits an input guard to texts of these message roles: system,
	// developer, user, assistant, tool, prompt (role-less prompt and input
	// fields). Default: all of them; indirect injection arrives in tool
	// results and documents, so they are scanned too. A role the gateway
	// does not recognise is always scanned.
	Roles []string `json:"roles,omitempty"`
	// Threshold is the score at or above which promptInjection or remote
	// fires. Default: the injection model's trained threshold; for a remote
	// moderation service, its own flagged verdict.
	Threshold float64 `json:"threshold,omitempty"`
	// Entities selects the pii or secrets types to look for (e.g. EMAIL,
	// CREDIT_CARD, PRIVATE_KEY). Default: all types of the detector.
	Entities []string `json:"entities,omitempty"`
	// Patterns are regular expressions (RE2 syntax) for the patterns
	// detector; each names the entity type of its matches.
	Patterns []GuardPattern `json:"patterns,omitempty"`
	// Words is a word list for the patterns detector, matched whole-word
	// and case-insensitively, reported as type WORD.
	Words []string `json:"words,omitempty"`
	// MaxMatchBytes bounds the length of a pattern match, which bounds the
	// stream hold-back of a patterns guard. Longer matches are still found
	// in prompts and whole responses, but a streamed one may be recognised
	// only after its start went out. Default 256.
	MaxMatchBytes int `json:"maxMatchBytes,omitempty"`
	// Remote configures the remote detector.
	Remote *RemoteGuard `json:"remote,omitempty"`
}

// GuardPattern is one regular expression of a patterns guard.
type GuardPattern struct {
	// Name is the entity type of matches, e.g. EMPLOYEE_ID; placeholders
	// read [EMPLOYEE_ID_1].
	Name string `json:"name"`
	// Regex is an RE2 expression. Use (?i) for case-insensitive matching.
	Regex string `json:"regex"`
}

// Remote guard kinds.
const (
	RemoteModeration = "moderation"
	RemoteJudge      = "judge"
)

// RemoteGuard is an HTTP guard service or an LLM judge. It runs
// concurrently with the local input guards.
type RemoteGuard struct {
	// Kind is moderation (default: an OpenAI-compatible /v1/moderations
	// endpoint; flagged results fire) or judge (an OpenAI-compatible
	// /v1/chat/completions endpoint asked to answer "safe" or "unsafe", as
	// Llama Guard does).
	Kind string `json:"kind,omitempty"`
	// URL is the full endpoint URL, e.g. http://guard:8000/v1/moderations.
	URL string `json:"url"`
	// Model is sent as the request's model. Required for judge.
	Model string `json:"model,omitempty"`
	// Prompt replaces the judge's system prompt.
	Prompt string `json:"prompt,omitempty"`
	// Timeout bounds one call; when it passes, failureMode decides.
	// Default 1s.
	Timeout Duration `json:"timeout,omitempty"`
	// FailureMode is closed (default: refuse the request with 503 when the
	// service fails or times out) or open (forward it, log and count).
	FailureMode string `json:"failureMode,omitempty"`
	// BearerTokenEnv names an environment variable holding a token sent as
	// "Authorization: Bearer".
	BearerTokenEnv string `json:"bearerTokenEnv,omitempty"`
}

// Defaults, in one place.
const (
	// DefaultGuardMaxMatchBytes keeps a patterns guard's hold-back short:
	// identifiers and code names are far shorter.
	DefaultGuardMaxMatchBytes = 256
	// DefaultGuardMaxResponseBytes is far above any completion while still
	// bounding memory per request.
	DefaultGuardMaxResponseBytes = 8 << 20
	// DefaultRemoteGuardTimeout keeps a slow guard service from adding more
	// than a second to every request.
	DefaultRemoteGuardTimeout = Duration(1e9)
)

func (g *Guards) applyDefaults() {
	if g.MaxResponseBytes == 0 {
		g.MaxResponseBytes = DefaultGuardMaxResponseBytes
	}
	for _, list := range [][]Guard{g.Input, g.Output} {
		for i := range list {
			gd := &list[i]
			if gd.Name == "" {
				gd.Name = gd.Detector
			}
			if gd.Detector == DetectorPatterns && gd.MaxMatchBytes == 0 {
				gd.MaxMatchBytes = DefaultGuardMaxMatchBytes
			}
			if r := gd.Remote; r != nil {
				if r.Kind == "" {
					r.Kind = RemoteModeration
				}
				if r.Timeout == 0 {
					r.Timeout = DefaultRemoteGuardTimeout
				}
				if r.FailureMode == "" {
					r.FailureMode = "closed"
				}
			}
		}
	}
}

var patternNameRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,39}$`)

func (g *Guards) validate(e *errs, path string) {
	if g.UnsafeStreamHoldBack < 0 {
		e.add(path+".unsafeStreamHoldBack", "must not be negative (0 = the detectors' full window)")
	}
	if g.MaxResponseBytes < 0 {
		e.add(path+".maxResponseBytes", "must not be negative")
	}
	validateGuardList(e, path+".input", g.Input, true)
	validateGuardList(e, path+".output", g.Output, false)
}

func validateGuardList(e *errs, path string, list []Guard, input bool) {
	names := map[string]int{}
	for i := range list {
		g := &list[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		if prev, ok := names[g.Name]; ok && g.Name != "" {
			e.add(p+".name", "%q is also the name of %s[%d]; give one of them a distinct name", g.Name, path, prev)
		} else {
			names[g.Name] = i
		}
		g.validate(e, p, input)
	}
}

func (g *Guard) validate(e *errs, p string, input bool) {
	var actions []string
	switch g.Detector {
	case DetectorPromptInjection, DetectorRemote:
		actions = []string{GuardBlock, GuardDetect}
		if !input {
			e.add(p+".detector", "%s runs on input only (a verdict on a whole text cannot be streamed); use it under input", g.Detector)
		}
	case DetectorCode:
		actions = []string{GuardBlock, GuardDetect}
	case DetectorPII, DetectorSecrets, DetectorPatterns:
		actions = []string{GuardBlock, GuardRedact, GuardDetect}
		if input {
			actions = append(actions, GuardMask)
		}
	case "":
		e.add(p+".detector", "is required (promptInjection|pii|secrets|code|patterns|remote)")
	default:
		e.add(p+".detector", "unknown detector %q (want promptInjection|pii|secrets|code|patterns|remote)", g.Detector)
	}
	switch {
	case g.Action == "":
		e.add(p+".action", "is required (block|redact|mask|detect)")
	case actions != nil && !slices.Contains(actions, g.Action):
		hint := ""
		if g.Action == GuardMask && !input {
			hint = "; mask applies to input, whose originals are restored in the output"
		}
		e.add(p+".action", "%q not allowed for %s (want %s)%s", g.Action, g.Detector, strings.Join(actions, "|"), hint)
	}
	if len(g.Roles) > 0 && !input {
		e.add(p+".roles", "applies to input guards only (output text has one role)")
	}
	for j, r := range g.Roles {
		if !slices.Contains(guardRoles, r) {
			e.add(fmt.Sprintf("%s.roles[%d]", p, j), "unknown role %q (want %s)", r, strings.Join(guardRoles, "|"))
		}
	}
	if g.Threshold < 0 || g.Threshold > 1 {
		e.add(p+".threshold", "%v out of range (want 0 < threshold <= 1; 0 takes the default)", g.Threshold)
	} else if g.Threshold != 0 && g.Detector != DetectorPromptInjection && g.Detector != DetectorRemote {
		e.add(p+".threshold", "applies to promptInjection and remote only")
	}
	if len(g.Entities) > 0 && g.Detector != DetectorPII && g.Detector != DetectorSecrets {
		e.add(p+".entities", "applies to pii and secrets only")
	}
	if g.Detector == DetectorPatterns {
		if len(g.Patterns) == 0 && len(g.Words) == 0 {
			e.add(p, "a patterns guard needs patterns or words")
		}
		if g.MaxMatchBytes < 0 {
			e.add(p+".maxMatchBytes", "must not be negative")
		}
	} else {
		if len(g.Patterns) > 0 {
			e.add(p+".patterns", "applies to the patterns detector only")
		}
		if len(g.Words) > 0 {
			e.add(p+".words", "applies to the patterns detector only")
		}
	}
	for j, pt := range g.Patterns {
		pp := fmt.Sprintf("%s.patterns[%d]", p, j)
		if !patternNameRE.MatchString(pt.Name) {
			e.add(pp+".name", "%q must be an upper-case entity type such as EMPLOYEE_ID (A-Z, 0-9, _; at most 40)", pt.Name)
		}
		if pt.Regex == "" {
			e.add(pp+".regex", "is required")
		} else if re, err := regexp.Compile(pt.Regex); err != nil {
			e.add(pp+".regex", "%v", err)
		} else if re.MatchString("") {
			e.add(pp+".regex", "%q matches the empty string; it would match everywhere", pt.Regex)
		}
	}
	for j, w := range g.Words {
		if strings.TrimSpace(w) == "" {
			e.add(fmt.Sprintf("%s.words[%d]", p, j), "must not be empty")
		}
	}
	switch {
	case g.Detector == DetectorRemote && g.Remote == nil:
		e.add(p+".remote", "is required for the remote detector (url, kind, timeout, failureMode)")
	case g.Detector != DetectorRemote && g.Remote != nil:
		e.add(p+".remote", "applies to the remote detector only")
	case g.Remote != nil:
		g.Remote.validate(e, p+".remote")
	}
}

func (r *RemoteGuard) validate(e *errs, p string) {
	if r.URL == "" {
		e.add(p+".url", "is required")
	} else {
		checkEndpoint(e, p+".url", r.URL)
	}
	switch r.Kind {
	case RemoteModeration:
	case RemoteJudge:
		if r.Model == "" {
			e.add(p+".model", "is required for kind judge")
		}
	default:
		e.add(p+".kind", "unknown kind %q (want moderation|judge)", r.Kind)
	}
	if r.Prompt != "" && r.Kind != RemoteJudge {
		e.add(p+".prompt", "applies to kind judge only")
	}
	if r.Timeout <= 0 {
		e.add(p+".timeout", "must be positive")
	}
	if r.FailureMode != "open" && r.FailureMode != "closed" {
		e.add(p+".failureMode", "%q not allowed (want open|closed)", r.FailureMode)
	}
}
