// SPDX-License-Identifier: Apache-2.0

package config

// WAF configures OWASP CRS inspection through Coraza for one route.
type WAF struct {
	// Mode is block (default), detect (log and count, never block: for a
	// staged rollout) or off.
	Mode string `json:"mode,omitempty"`
	// ParanoiaLevel is the CRS paranoia level, 1 (default) to 4.
	ParanoiaLevel int `json:"paranoiaLevel,omitempty"`
}

func (w *WAF) applyDefaults() {
	if w.Mode == "" {
		w.Mode = "block"
	}
	if w.ParanoiaLevel == 0 {
		w.ParanoiaLevel = 1
	}
}

func (w *WAF) validate(e *errs, path string) {
	if !oneOf(w.Mode, "block", "detect", "off") {
		e.add(path+".mode", "%q is not one of block|detect|off", w.Mode)
	}
	if w.ParanoiaLevel < 1 || w.ParanoiaLevel > 4 {
		e.add(path+".paranoiaLevel", "%d must be 1-4", w.ParanoiaLevel)
	}
}
