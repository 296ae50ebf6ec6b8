// SPDX-License-Identifier: Apache-2.0

package config

// applyFeatureDefaults and validateFeatures hand each per-route capability
// (WAF, limits, guards) its own defaults and checks, kept in the file of
// that capability.
func (r *Route) applyFeatureDefaults() {
	if r.WAF != nil {
		r.WAF.applyDefaults()
	}
	for i := range r.Limits {
		r.Limits[i].applyDefaults()
	}
	if r.Guards != nil {
		r.Guards.applyDefaults()
	}
}

func (r *Route) validateFeatures(e *errs, path string) {
	if r.WAF != nil {
		r.WAF.validate(e, path+".waf")
	}
	validateLimits(e, path+".limits", r.Limits)
	if r.Guards != nil {
		r.Guards.validate(e, path+".guards")
	}
}
