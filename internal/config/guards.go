// SPDX-License-Identifier: Apache-2.0

package config

// Guards are the guardrails of one route, on prompts and on outputs.
type Guards struct {
	Input  []Guard `json:"input,omitempty"`
	Output []Guard `json:"output,omitempty"`
}

// Guard runs one detector with one action.
type Guard struct {
	// Detector is promptInjection, pii, secrets, code, pattern or remote.
	Detector string `json:"detector"`
	// Action is block, redact, mask or detect (log and count only).
	Action string `json:"action"`
}

func (g *Guards) applyDefaults() {}

func (g *Guards) validate(e *errs, path string) {}
