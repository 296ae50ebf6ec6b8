// SPDX-License-Identifier: Apache-2.0

package waf

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"rsc.io/binaryregexp"
)

// Bulwark replaces Coraza's @rx operator with one that gives the same
// answers and remembers them. An @rx match is a pure function of the
// pattern and the (transformed) value, and the values CRS sees in LLM
// traffic repeat from request to request: header values, ARGS names such
// as json.messages.0.role, model names. Most CRS rules capture, so each
// evaluation is a FindStringSubmatchIndex over a large alternation; a
// remembered answer costs a map lookup. Long values (prompt text when
// inspectPrompts is on) are not remembered.
//
// The semantics follow Coraza v3.8's rx operator exactly: (?sm) flags,
// the binary-regexp fallback for patterns that match arbitrary bytes, and
// captures 0-8 written to TX. The CRS regression suite runs on it.
func init() {
	plugins.RegisterOperator("rx", newMemoRX)
}

const (
	// memoMaxValue is the longest value whose result is remembered.
	memoMaxValue = 256
	// memoEntries bounds each pattern's memory; a full table is cleared
	// and refills with what is current.
	memoEntries = 512
)

// rxResult is a remembered evaluation: whether it matched and, for
// capturing rules, the groups CaptureField received.
type rxResult struct {
	matched  bool
	captured bool
	groups   []string
}

// rxMemo is one pattern's table, shared by every rule and WAF using the
// pattern (CRS repeats patterns across rules).
type rxMemo struct {
	m sync.Map // string -> *rxResult
	n atomic.Int32
}

func (c *rxMemo) load(v string) (*rxResult, bool) {
	r, ok := c.m.Load(v)
	if !ok {
		return nil, false
	}
	return r.(*rxResult), true
}

func (c *rxMemo) store(v string, r *rxResult) {
	if c.n.Add(1) > memoEntries {
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(strings.Clone(v), r)
}

var (
	memoMu     sync.Mutex
	memoTables = map[string]*memoRX{}
)

type memoRX struct {
	re   *regexp.Regexp
	bin  *binaryregexp.Regexp
	memo *rxMemo
}

// newMemoRX compiles a pattern once per process: rules and WAFs that use
// the same pattern share the compiled regexp and its table.
func newMemoRX(options plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	binary := matchesArbitraryBytes("(?sm)" + options.Arguments)
	key := "(?sm)" + options.Arguments
	if binary {
		key = "bin:" + options.Arguments
	}
	memoMu.Lock()
	defer memoMu.Unlock()
	if o, ok := memoTables[key]; ok {
		return o, nil
	}
	o := &memoRX{memo: &rxMemo{}}
	var err error
	if binary {
		o.bin, err = binaryregexp.Compile(options.Arguments)
	} else {
		o.re, err = regexp.Compile(key)
	}
	if err != nil {
		return nil, fmt.Errorf("@rx %q: %w", options.Arguments, err)
	}
	memoTables[key] = o
	return o, nil
}

func (o *memoRX) Evaluate(tx plugintypes.TransactionState, value string) bool {
	capturing := tx.Capturing()
	if len(value) <= memoMaxValue {
		if r, ok := o.memo.load(value); ok && (r.captured || !capturing) {
			if capturing && r.matched {
				for i, g := range r.groups {
					tx.CaptureField(i, g)
				}
			}
			return r.matched
		}
	}
	r := o.eval(value, capturing)
	if capturing && r.matched {
		for i, g := range r.groups {
			tx.CaptureField(i, g)
		}
	}
	if len(value) <= memoMaxValue {
		o.memo.store(value, r)
	}
	return r.matched
}

// eval runs the pattern. With capturing, groups 0-8 are kept as Coraza
// keeps them ("" for a group that did not take part).
func (o *memoRX) eval(value string, capturing bool) *rxResult {
	r := &rxResult{captured: capturing}
	if o.bin != nil {
		if !capturing {
			r.matched = o.bin.MatchString(value)
			return r
		}
		m := o.bin.FindStringSubmatch(value)
		if len(m) == 0 {
			return r
		}
		r.matched = true
		r.groups = append([]string(nil), m[:min(len(m), 9)]...)
		return r
	}
	if !capturing {
		r.matched = o.re.MatchString(value)
		return r
	}
	idx := o.re.FindStringSubmatchIndex(value)
	if idx == nil {
		return r
	}
	r.matched = true
	n := min(len(idx)/2, 9)
	r.groups = make([]string, n)
	for i := range n {
		if idx[2*i] >= 0 {
			r.groups[i] = value[idx[2*i]:idx[2*i+1]]
		}
	}
	return r
}

// matchesArbitraryBytes reports whether expr's \xNN escapes spell bytes
// that are not valid UTF-8, in which case, as in Coraza, the pattern is
// compiled with binaryregexp.
func matchesArbitraryBytes(expr string) bool {
	decoded := make([]byte, 0, len(expr))
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		if c != '\\' {
			decoded = append(decoded, c)
			continue
		}
		if i+3 >= len(expr) {
			decoded = append(decoded, expr[i:]...)
			break
		}
		if expr[i+1] != 'x' {
			decoded = append(decoded, expr[i])
			continue
		}
		sub, advance := expr[i:], 3
		if len(sub) >= 6 && sub[2] == '{' {
			if end := strings.IndexByte(sub, '}'); end != -1 {
				sub, advance = `\x`+sub[3:end], end
			}
		}
		v, multibyte, _, err := strconv.UnquoteChar(sub, 0)
		if err != nil || multibyte {
			decoded = append(decoded, expr[i])
			continue
		}
		decoded = append(decoded, byte(v))
		i += advance
	}
	return !utf8.Valid(decoded)
}
