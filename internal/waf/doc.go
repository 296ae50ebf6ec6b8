// SPDX-License-Identifier: Apache-2.0

// Package waf is Bulwark's AI-aware web application firewall stage: OWASP
// CRS v4 through Coraza v3, embedded, plus the checks that CRS cannot make
// for LLM APIs.
//
// CRS inspects the URL, query, headers, cookies and every JSON field of an
// LLM request except its prompt text (message contents, prompt, input,
// instructions, tool results and tool-call arguments), which belongs to the
// guardrails: CRS was written for web forms and misfires on honest prompts
// that quote SQL, shell or HTML, and its regexes over prompt text are most
// of its cost. Rather than run Coraza's JSON body processor, the stage walks
// the body itself and hands CRS the same ARGS (json.a.b keys) minus the
// prompt strings. Passthrough routes get CRS's usual body processing by
// Content-Type.
//
// Beside CRS it enforces strict JSON (llm.CheckStrict), structural limits,
// and refuses media URLs that would make the upstream fetch private,
// loopback, link-local or cloud-metadata addresses (SSRF).
//
// Compiled WAFs are cached by their directives, so a reload that keeps a
// route's WAF config reuses the compiled rule set. docs/waf.md has the
// options, the CRS regression results and the measured cost.
package waf
