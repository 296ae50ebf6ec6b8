// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"strings"
	"sync"

	"github.com/corazawaf/coraza/v3/types"
)

// The verdict cache exists because CRS's cost is mostly fixed per request
// (about 0.3 ms to initialise and walk every phase 1-2 rule even for an
// empty GET, then ~80 µs per inspected value) while, in AI-aware mode, what
// CRS sees of an LLM request - URL, headers, model, roles, parameters -
// repeats from request to request: the prompt text, which varies, is not
// given to CRS at all. CRS over the same input gives the same outcome, so
// the outcome is computed once per distinct input.
//
// The key is a SHA-256 over everything the transaction is fed, in the same
// order, with four exceptions, each an equivalence CRS cannot tell apart:
//
//   - REMOTE_ADDR enters as one bit, "is exactly 127.0.0.1 or ::1": the only
//     CRS rules that read it (905100, 905110) test that. REMOTE_PORT is
//     read by no CRS rule and is left out.
//   - A Content-Length of a positive decimal without leading zeros enters
//     as its class: CRS tests the value for digits (920160), for "0" or
//     empty (920170, 920340) and, only in multipart requests with
//     tx.max_file_size set, for size (920400: not an LLM request, and not
//     set by Bulwark).
//   - Per-request identifiers in strict grammars (W3C traceparent, B3 ids,
//     UUID or hex request ids, IP address lists in X-Forwarded-For and
//     X-Real-IP) enter as their class. Their alphabets (hex digits, dashes,
//     dots, colons, commas and spaces) hold nothing CRS's header rules look
//     for.
//   - Tool-call ids (call_, fc_, toolu_ and 8-64 letters or digits) in id
//     fields of the JSON body enter as their class: random per call, they
//     would otherwise make every agent turn a new input.
//
// TestVerdictClassesAreEquivalent checks random and adversarial members of
// every class against the full rule set at PL1-PL4 (it is how vLLM's
// "chatcmpl-tool-" ids were found not to be a class).
//
// Rules that read the clock, UNIQUE_ID, persistent collections or anything
// else outside the key can only come from a rulesFile, so a route with one
// gets no cache. Neither does a route that inspects responses: its
// transaction stays open for the response phases.

// verdict is what one CRS evaluation decided.
type verdict struct {
	it    *types.Interruption // nil: allowed (in detect mode: would have been)
	score int
	rules []int
}

// verdictCache is a bounded map from input key to verdict. When full, an
// arbitrary entry (Go's map iteration starts at a random place) makes
// room: cheap, and a flood of distinct requests cannot pin old entries.
type verdictCache struct {
	mu  sync.Mutex
	m   map[[sha256.Size]byte]*verdict
	max int
}

func newVerdictCache(max int) *verdictCache {
	return &verdictCache{m: make(map[[sha256.Size]byte]*verdict), max: max}
}

func (c *verdictCache) get(k [sha256.Size]byte) (*verdict, bool) {
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	return v, ok
}

func (c *verdictCache) put(k [sha256.Size]byte, v *verdict) {
	c.mu.Lock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
	c.mu.Unlock()
}

func (c *verdictCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// txInput is the part of a Coraza transaction the stage feeds a request
// into. The transaction implements it, and so does keyWriter, so the key
// is built by the very code that feeds CRS and cannot miss an input.
type txInput interface {
	ProcessConnection(client string, cPort int, srvHost string, sPort int)
	ProcessURI(uri, method, httpVersion string)
	AddRequestHeader(key, value string)
	SetServerName(serverName string)
	AddPostRequestArgument(key, value string)
}

// keyWriter accumulates a transaction's input, each item tagged and
// length-prefixed so that no two inputs share an encoding.
type keyWriter struct{ b []byte }

var keyWriters = sync.Pool{New: func() any { return &keyWriter{b: make([]byte, 0, 1024)} }}

const (
	tagConn byte = iota + 1
	tagURI
	tagHeader
	tagServer
	tagArg
	tagHeaderClass
	tagArgClass
)

func (w *keyWriter) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *keyWriter) ProcessConnection(client string, _ int, _ string, _ int) {
	w.b = append(w.b, tagConn, 0)
	if client == "127.0.0.1" || client == "::1" {
		w.b[len(w.b)-1] = 1
	}
}

func (w *keyWriter) ProcessURI(uri, method, proto string) {
	w.b = append(w.b, tagURI)
	w.str(uri)
	w.str(method)
	w.str(proto)
}

// A value in a class is written under its own tag, so a class name never
// collides with a literal value (JSON strings can hold any byte).
func (w *keyWriter) AddRequestHeader(k, v string) {
	w.item(tagHeader, tagHeaderClass, k, v, headerClass(k, v))
}

func (w *keyWriter) item(tag, classTag byte, k, v, class string) {
	if class != "" {
		tag, v = classTag, class
	}
	w.b = append(w.b, tag)
	w.str(k)
	w.str(v)
}

func (w *keyWriter) SetServerName(s string) {
	w.b = append(w.b, tagServer)
	w.str(s)
}

func (w *keyWriter) AddPostRequestArgument(k, v string) {
	w.item(tagArg, tagArgClass, k, v, argClass(k, v))
}

func (w *keyWriter) sum() [sha256.Size]byte { return sha256.Sum256(w.b) }

// headerClass names the equivalence class of a header value, or "" when
// the value must enter the key as it is.
func headerClass(name, v string) string {
	switch {
	case strings.EqualFold(name, "Content-Length"):
		if isPositiveDecimal(v) {
			return "positive-decimal"
		}
	case strings.EqualFold(name, "Traceparent"):
		if isTraceparent(v) {
			return "traceparent"
		}
	case strings.EqualFold(name, "X-Request-Id"), strings.EqualFold(name, "X-Correlation-Id"),
		strings.EqualFold(name, "X-B3-Traceid"), strings.EqualFold(name, "X-B3-Spanid"),
		strings.EqualFold(name, "X-B3-Parentspanid"), strings.EqualFold(name, "X-Client-Request-Id"):
		if isHexID(v) {
			return "hex-id"
		}
	case strings.EqualFold(name, "X-Forwarded-For"), strings.EqualFold(name, "X-Real-Ip"):
		if isIPList(v) {
			return "ip-list"
		}
	}
	return ""
}

// argClass names the equivalence class of a JSON value CRS sees, or "".
// Tool-call ids are random per call, so without a class every agent turn
// would be a new input.
func argClass(name, v string) string {
	if (strings.HasSuffix(name, ".id") || strings.HasSuffix(name, ".tool_call_id") || strings.HasSuffix(name, ".call_id")) && isCallID(v) {
		return "call-id"
	}
	return ""
}

// callIDPrefixes are the tool-call id forms of OpenAI (call_, fc_ for
// Responses items) and Anthropic-style servers (toolu_). vLLM's
// "chatcmpl-tool-<hex>" is not among them: the dash lets CRS see a word
// after it ("chatcmpl-tool-unionselect1" scores 942190), so those ids enter
// the key as they are.
var callIDPrefixes = []string{"call_", "fc_", "toolu_"}

// isCallID accepts a known prefix followed by 8-64 ASCII letters and
// digits: no separators, so no word CRS looks for can stand on its own.
func isCallID(v string) bool {
	for _, p := range callIDPrefixes {
		rest, ok := strings.CutPrefix(v, p)
		if !ok {
			continue
		}
		if len(rest) < 8 || len(rest) > 64 {
			return false
		}
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
		return true
	}
	return false
}

func isPositiveDecimal(v string) bool {
	if v == "" || len(v) > 19 || v[0] == '0' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// isTraceparent accepts the W3C form vv-{32 hex}-{16 hex}-ff, lower case.
func isTraceparent(v string) bool {
	if len(v) != 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if i == 2 || i == 35 || i == 52 {
			continue
		}
		if c := v[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isHexID accepts 8-64 hex digits in groups joined by single dashes, no
// dash at either end: UUIDs, B3 and most request ids. Single dashes only,
// so "--" (a SQL comment) cannot occur.
func isHexID(v string) bool {
	if len(v) < 8 || len(v) > 80 {
		return false
	}
	digits := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case isHex(c):
			digits++
		case c == '-' && i > 0 && i < len(v)-1 && v[i-1] != '-':
		default:
			return false
		}
	}
	return digits >= 8 && digits <= 64
}

// isIPList accepts up to 16 IP addresses separated by commas and optional
// spaces, each parsing as an address without a zone.
func isIPList(v string) bool {
	if len(v) > 16*46 {
		return false
	}
	n := 0
	for part := range strings.SplitSeq(v, ",") {
		a, err := netip.ParseAddr(strings.Trim(part, " "))
		if err != nil || a.Zone() != "" {
			return false
		}
		if n++; n > 16 {
			return false
		}
	}
	return true
}
