// SPDX-License-Identifier: Apache-2.0

package access

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// Stage applies a route's access rules: the first matching rule decides,
// and when rules exist, no match is a deny.
type Stage struct {
	rules []rule
}

type rule struct {
	name       string
	identities map[string]bool
	tenants    map[string]bool
	models     []string
	deny       bool
}

var _ pipeline.Stage = (*Stage)(nil)

// New returns nil when the route has no rules: everyone authenticated may
// use every model, and the stage is left out of the chain.
func New(rules []config.AccessRule) *Stage {
	if len(rules) == 0 {
		return nil
	}
	s := &Stage{}
	for i, r := range rules {
		s.rules = append(s.rules, rule{
			name: "access[" + strconv.Itoa(i) + "]", identities: set(r.Identities), tenants: set(r.Tenants),
			models: r.Models, deny: r.Deny,
		})
	}
	return s
}

func set(xs []string) map[string]bool {
	if len(xs) == 0 {
		return nil
	}
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// Name implements pipeline.Stage.
func (s *Stage) Name() string { return "access" }

// OnRequest implements pipeline.Stage.
func (s *Stage) OnRequest(_ context.Context, rc *pipeline.RequestContext) (*pipeline.Decision, error) {
	model := ""
	if rc.LLM != nil {
		model = rc.LLM.Model
	}
	for i := range s.rules {
		r := &s.rules[i]
		if !r.matches(rc.Identity, model) {
			continue
		}
		if r.deny {
			return forbidden(r.name, model), nil
		}
		return nil, nil
	}
	return forbidden("no_matching_rule", model), nil
}

func (r *rule) matches(id pipeline.Identity, model string) bool {
	if r.identities != nil && !r.identities[id.ID] {
		return false
	}
	if r.tenants != nil && !r.tenants[id.Tenant] {
		return false
	}
	if len(r.models) == 0 {
		return true
	}
	for _, m := range r.models {
		if Glob(m, model) {
			return true
		}
	}
	return false
}

func forbidden(rule, model string) *pipeline.Decision {
	msg := "You are not allowed to use this route."
	if model != "" {
		msg = "You are not allowed to use model " + strconv.Quote(model) + "."
	}
	return &pipeline.Decision{Status: http.StatusForbidden, Type: pipeline.TypePermission, Code: "access_denied",
		Message: msg, Rule: rule}
}

// Glob matches s against a pattern where '*' stands for any run of
// characters, '/' included (model names such as "meta-llama/*").
func Glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}
