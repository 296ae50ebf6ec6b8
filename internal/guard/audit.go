// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"sync"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
	"github.com/bulwarkai/bulwark/internal/guard/pii"
	"github.com/bulwarkai/bulwark/internal/guard/redact"
	"github.com/bulwarkai/bulwark/internal/guard/secrets"
)

// Audit is the stage's section of the audit line ("guards"): which guards
// looked, what they decided, their scores and the entity types they found.
// It never holds a scanned value.
type Audit struct {
	Input  []*Hit `json:"input,omitempty"`
	Output []*Hit `json:"output,omitempty"`
	// Blocked names the guard that stopped a streamed response after it
	// had started (the status is then already 200).
	Blocked string `json:"blocked,omitempty"`
}

// Hit is one guard's result for one request and direction.
type Hit struct {
	Guard    string `json:"guard"`
	Detector string `json:"detector"`
	// Action is the configured action.
	Action string `json:"action"`
	// Outcome is the action taken, or "pass" for a scoring guard that
	// looked and did not fire, or "error" for a remote guard that failed.
	Outcome string `json:"outcome"`
	// Score is the injection probability or the remote guard's score.
	Score float64 `json:"score,omitempty"`
	// Types are the entity types found, sorted; Count the findings.
	Types []string `json:"types,omitempty"`
	Count int      `json:"count,omitempty"`
	// Error says why a remote guard failed (no response content).
	Error string `json:"error,omitempty"`
}

const (
	outcomePass  = "pass"
	outcomeError = "error"
)

// hit returns g's entry for dir, creating it.
func (a *Audit) hit(dir string, g *guard) *Hit {
	list := &a.Input
	if dir == dirOutput {
		list = &a.Output
	}
	for _, h := range *list {
		if h.Guard == g.name {
			return h
		}
	}
	h := &Hit{Guard: g.name, Detector: g.detector, Action: g.action}
	*list = append(*list, h)
	return h
}

var auditDetector = sync.OnceValue(func() entity.Detector {
	p, err := pii.New()
	if err != nil {
		panic("guard: pii.New with no arguments: " + err.Error())
	}
	s, err := secrets.New()
	if err != nil {
		panic("guard: secrets.New with no arguments: " + err.Error())
	}
	return entity.Combine(s, p)
})

// AuditRedactor returns the redactor for audit.prompts: redacted. It
// replaces every PII and secret value the detectors know with a typed
// placeholder ([EMAIL_1], [PRIVATE_KEY_1]); values cannot be recovered
// from the log.
func AuditRedactor() func(string) string {
	d := auditDetector()
	return func(text string) string {
		fs := d.Find(text, nil)
		if len(fs) == 0 {
			return text
		}
		return redact.New(redact.Redact).Redact(text, fs)
	}
}
