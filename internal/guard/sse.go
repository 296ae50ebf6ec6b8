// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// maxEventBytes bounds one server-sent event; an upstream that never ends
// an event cannot make the gateway buffer without limit.
const maxEventBytes = 1 << 20

// streamKey names one text stream of a response: a choice's content (or
// refusal, reasoning), a tool call's arguments, a Responses output part.
type streamKey struct {
	choice, part int
	field        string
}

// textStream is one text stream and the last event that carried it, kept
// as a template for events the guard has to add (text released at the end
// of the stream, when no event of the stream is left to carry it).
type textStream struct {
	key    streamKey
	scan   *textScan
	final  bool
	prefix []byte // the template's lines other than data
	tmpl   []byte // the template's data
	span   scalar // this stream's string in tmpl
	others []edit // what else in tmpl to blank (other streams, logprobs)
}

// sseGuard rewrites an event stream as it passes: each text delta goes
// through the stream's textScan, and the event is re-encoded with what may
// be released. Events without guarded text pass byte for byte.
type sseGuard struct {
	src     io.ReadCloser
	rc      *pipeline.RequestContext
	o       *outputSide
	api     llm.API
	buf     []byte
	pending []byte
	out     []byte
	off     int
	err     error
	fail    error // an upstream read error, returned once the output is out
	ended   bool
	streams []*textStream
	path    []elem
	refs    []ref
	edits   []edit
	scratch []byte
	prefix  []byte
}

var emptyString = []byte(`""`)

// ref is a guarded value found in one event.
type ref struct {
	v     scalar
	kind  uint8
	key   streamKey
	cpos  int // choice array position (chat and completions)
	tpos  int // tool call array position, or -1
	final bool
}

const (
	refStream uint8 = iota
	refSnapshot
	refCut
)

func newSSEGuard(src io.ReadCloser, rc *pipeline.RequestContext, o *outputSide) *sseGuard {
	return &sseGuard{src: src, rc: rc, o: o, api: rc.API, buf: make([]byte, 16<<10)}
}

func (g *sseGuard) Read(p []byte) (int, error) {
	for g.off == len(g.out) {
		g.out, g.off = g.out[:0], 0
		if g.ended {
			if g.fail != nil {
				return 0, g.fail
			}
			return 0, io.EOF
		}
		if g.err != nil {
			if len(g.pending) > 0 { // a last event without its blank line
				ev := g.pending
				g.pending = nil
				g.event(ev)
				continue
			}
			if g.err != io.EOF {
				g.fail = g.err
			}
			g.flushAll()
			g.end()
		}
		n, err := g.src.Read(g.buf)
		g.err = err
		g.pending = append(g.pending, g.buf[:n]...)
		g.drain()
	}
	n := copy(p, g.out[g.off:])
	g.off += n
	return n, nil
}

func (g *sseGuard) Close() error {
	g.end()
	return g.src.Close()
}

// end stops the stream once, recording the time spent.
func (g *sseGuard) end() {
	if !g.ended {
		g.ended = true
		g.o.observe()
	}
}

// drain processes every complete event in pending.
func (g *sseGuard) drain() {
	for !g.ended {
		end := llm.EventEnd(g.pending)
		if end < 0 {
			if len(g.pending) > maxEventBytes {
				g.block(nil, "server-sent event exceeds 1 MiB")
			}
			return
		}
		g.event(g.pending[:end])
		g.pending = g.pending[:copy(g.pending, g.pending[end:])]
	}
}

// splitEvent separates the data of an event (data lines joined by "\n",
// as the SSE spec does) from its other lines.
func splitEvent(ev []byte, prefix, data []byte) ([]byte, []byte, bool) {
	hasData := false
	for len(ev) > 0 {
		line := ev
		if i := bytes.IndexByte(ev, '\n'); i >= 0 {
			line, ev = ev[:i+1], ev[i+1:]
		} else {
			ev = nil
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			continue
		}
		if v, ok := bytes.CutPrefix(trimmed, []byte("data:")); ok {
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
			hasData = true
			continue
		}
		prefix = append(prefix, trimmed...)
		prefix = append(prefix, '\n')
	}
	return prefix, data, hasData
}

// event guards one complete event.
func (g *sseGuard) event(ev []byte) {
	if g.ended {
		return
	}
	prefix, data, ok := splitEvent(ev, g.prefix[:0], g.scratch[:0])
	g.prefix, g.scratch = prefix, data
	d := bytes.TrimSpace(data)
	switch {
	case !ok || len(d) == 0:
		g.out = append(g.out, ev...)
		return
	case string(d) == "[DONE]":
		if g.flushAll() {
			g.out = append(g.out, ev...)
		}
		return
	case d[0] != '{':
		g.out = append(g.out, ev...)
		return
	}
	var err error
	if g.api == llm.APIResponses {
		err = g.responsesEvent(ev, prefix, d)
	} else {
		err = g.chatEvent(ev, prefix, d)
	}
	if err != nil {
		g.block(nil, "malformed stream event: "+err.Error())
	}
}

// chatEvent guards a chat.completion.chunk or text_completion chunk.
func (g *sseGuard) chatEvent(ev, prefix, data []byte) error {
	g.refs = g.refs[:0]
	var choiceIdx [][2]int // cpos → index
	var toolIdx [][3]int   // cpos, tpos → index
	var finished []int     // cpos
	var err error
	g.path, err = walk(data, g.path, func(path []elem, v scalar) {
		if len(path) < 2 || path[0].key != "choices" || path[1].idx < 0 {
			return
		}
		c, rest := path[1].idx, path[2:]
		if v.cut {
			if string(data[v.start:v.end]) != "null" {
				g.refs = append(g.refs, ref{v: v, kind: refCut})
			}
			return
		}
		if underLogprobs(rest) {
			return
		}
		n := len(rest)
		switch {
		case n == 1 && rest[0].key == "index" && !v.str:
			if i, err := strconv.Atoi(string(data[v.start:v.end])); err == nil {
				choiceIdx = append(choiceIdx, [2]int{c, i})
			}
		case n == 1 && rest[0].key == "finish_reason" && v.str:
			finished = append(finished, c)
		case !v.str:
			if n == 4 && rest[0].key == "delta" && rest[1].key == "tool_calls" && rest[2].idx >= 0 && rest[3].key == "index" {
				if i, err := strconv.Atoi(string(data[v.start:v.end])); err == nil {
					toolIdx = append(toolIdx, [3]int{c, rest[2].idx, i})
				}
			}
		case n == 1 && rest[0].key == "text":
			g.refs = append(g.refs, ref{v: v, kind: refStream, cpos: c, tpos: -1, key: streamKey{field: "text"}})
		case n == 2 && rest[0].key == "delta" && isDeltaField(rest[1].key):
			g.refs = append(g.refs, ref{v: v, kind: refStream, cpos: c, tpos: -1, key: streamKey{field: rest[1].key}})
		case n == 5 && rest[0].key == "delta" && rest[1].key == "tool_calls" && rest[2].idx >= 0 && rest[3].key == "function" && rest[4].key == "arguments":
			g.refs = append(g.refs, ref{v: v, kind: refStream, cpos: c, tpos: rest[2].idx, key: streamKey{field: "arguments"}})
		case isTextKey(rest[n-1].key):
			g.refs = append(g.refs, ref{v: v, kind: refSnapshot})
		}
	}, isLogprobs)
	if err != nil {
		return err
	}
	finChoices := make([]int, 0, len(finished))
	for _, c := range finished {
		finChoices = append(finChoices, lookup(choiceIdx, c))
	}
	for i := range g.refs {
		r := &g.refs[i]
		if r.kind != refStream {
			continue
		}
		r.key.choice = lookup(choiceIdx, r.cpos)
		r.key.part = -1
		if r.tpos >= 0 {
			r.key.part = r.tpos
			for _, t := range toolIdx {
				if t[0] == r.cpos && t[1] == r.tpos {
					r.key.part = t[2]
				}
			}
		}
		r.final = slices.Contains(finChoices, r.key.choice)
	}
	return g.apply(ev, prefix, data, func(ts *textStream) bool { return slices.Contains(finChoices, ts.key.choice) })
}

func isDeltaField(k string) bool {
	switch k {
	case "content", "refusal", "reasoning_content", "reasoning":
		return true
	}
	return false
}

func lookup(pairs [][2]int, pos int) int {
	for _, p := range pairs {
		if p[0] == pos {
			return p[1]
		}
	}
	return pos
}

// responsesEvent guards one Responses API stream event.
func (g *sseGuard) responsesEvent(ev, prefix, data []byte) error {
	g.refs = g.refs[:0]
	var typ string
	outputIndex, partIndex := -1, -1
	delta := -1
	var err error
	g.path, err = walk(data, g.path, func(path []elem, v scalar) {
		if v.cut {
			if string(data[v.start:v.end]) != "null" {
				g.refs = append(g.refs, ref{v: v, kind: refCut})
			}
			return
		}
		if underLogprobs(path) {
			return
		}
		if len(path) == 1 {
			switch path[0].key {
			case "type":
				if v.str {
					typ, _ = decodeString(data[v.start:v.end])
				}
				return
			case "output_index":
				outputIndex = atoi(data[v.start:v.end])
				return
			case "content_index", "summary_index":
				partIndex = atoi(data[v.start:v.end])
				return
			case "delta":
				if v.str {
					delta = len(g.refs)
					g.refs = append(g.refs, ref{v: v, kind: refStream})
				}
				return
			}
		}
		if v.str && isTextKey(path[len(path)-1].key) {
			g.refs = append(g.refs, ref{v: v, kind: refSnapshot})
		}
	}, isLogprobs)
	if err != nil {
		return err
	}
	isDelta := strings.HasSuffix(typ, ".delta") && !strings.Contains(typ, "audio.delta") && !strings.Contains(typ, "image")
	if delta >= 0 {
		if isDelta {
			g.refs[delta].key = streamKey{choice: outputIndex, part: partIndex, field: typ}
		} else {
			g.refs[delta].kind = refSnapshot
			if !strings.Contains(typ, "text") && !strings.Contains(typ, "arguments") && !strings.Contains(typ, "refusal") && !strings.Contains(typ, "transcript") {
				g.refs = slices.Delete(g.refs, delta, delta+1) // audio and other binary deltas
			}
		}
	}
	// A .done event, or one outside any output item (response.completed,
	// error), ends the streams it covers.
	flushes := !isDelta && (strings.HasSuffix(typ, ".done") || outputIndex < 0)
	return g.apply(ev, prefix, data, func(ts *textStream) bool {
		return flushes && (outputIndex < 0 || ts.key.choice == outputIndex)
	})
}

func atoi(b []byte) int {
	i, err := strconv.Atoi(string(b))
	if err != nil {
		return -1
	}
	return i
}

// apply runs the refs of one event through the guards and emits the event
// (rewritten if anything changed), preceded by events carrying the rest of
// the streams that end here without a field in this event.
func (g *sseGuard) apply(ev, prefix, data []byte, ends func(*textStream) bool) error {
	g.edits = g.edits[:0]
	var touched []*textStream
	for i := range g.refs {
		r := &g.refs[i]
		switch r.kind {
		case refCut:
			g.edits = append(g.edits, edit{start: r.v.start, end: r.v.end, repl: []byte("null")})
			continue
		case refSnapshot:
			text, err := decodeString(data[r.v.start:r.v.end])
			if err != nil {
				return err
			}
			out, blk := g.o.scanWhole(text)
			if blk != nil {
				g.block(blk, "")
				return nil
			}
			if out != text {
				g.edits = append(g.edits, edit{start: r.v.start, end: r.v.end, repl: appendString(nil, out)})
			}
			continue
		}
		text, err := decodeString(data[r.v.start:r.v.end])
		if err != nil {
			return err
		}
		ts := g.stream(r.key)
		final := r.final
		if !final && g.api == llm.APIResponses {
			final = ends(ts)
		}
		out, blk := ts.scan.write(text, final)
		ts.final = ts.final || final
		touched = append(touched, ts)
		g.setTemplate(ts, prefix, data, i)
		if blk != nil {
			if out != "" {
				g.synth(ts, out)
			}
			g.block(blk, "")
			return nil
		}
		if out != text {
			repl := emptyString
			if out != "" {
				repl = appendString(nil, out)
			}
			g.edits = append(g.edits, edit{start: r.v.start, end: r.v.end, repl: repl})
		}
	}
	// Streams that end with this event but have no field in it.
	var pre []byte
	for _, ts := range g.streams {
		if ts.final || slices.Contains(touched, ts) || !ends(ts) {
			continue
		}
		mark := len(g.out)
		if !g.finish(ts) {
			return nil
		}
		pre = append(pre, g.out[mark:]...)
		g.out = g.out[:mark]
	}
	g.out = append(g.out, pre...)
	if len(g.edits) == 0 {
		g.out = append(g.out, ev...)
		return nil
	}
	slices.SortFunc(g.edits, func(a, b edit) int { return a.start - b.start })
	g.out = append(g.out, prefix...)
	g.out = append(g.out, "data: "...)
	g.out = splice(g.out, data, g.edits)
	g.out = append(g.out, "\n\n"...)
	return nil
}

func (g *sseGuard) stream(k streamKey) *textStream {
	for _, ts := range g.streams {
		if ts.key == k {
			return ts
		}
	}
	ts := &textStream{key: k, scan: g.o.newScan()}
	g.streams = append(g.streams, ts)
	return ts
}

// setTemplate remembers the current event as ts's template: everything
// but ts's own text blanked.
func (g *sseGuard) setTemplate(ts *textStream, prefix, data []byte, self int) {
	ts.prefix = append(ts.prefix[:0], prefix...)
	ts.tmpl = append(ts.tmpl[:0], data...)
	ts.span = g.refs[self].v
	ts.others = ts.others[:0]
	for i, r := range g.refs {
		switch {
		case i == self:
		case r.kind == refCut:
			ts.others = append(ts.others, edit{start: r.v.start, end: r.v.end, repl: []byte("null")})
		default:
			ts.others = append(ts.others, edit{start: r.v.start, end: r.v.end, repl: []byte(`""`)})
		}
	}
}

// synth emits an event made from ts's template carrying text.
func (g *sseGuard) synth(ts *textStream, text string) {
	edits := append(slices.Clone(ts.others), edit{start: ts.span.start, end: ts.span.end, repl: appendString(nil, text)})
	slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
	g.out = append(g.out, ts.prefix...)
	g.out = append(g.out, "data: "...)
	g.out = splice(g.out, ts.tmpl, edits)
	g.out = append(g.out, "\n\n"...)
}

// finish releases the rest of ts; false if that blocked the stream.
func (g *sseGuard) finish(ts *textStream) bool {
	ts.final = true
	out, blk := ts.scan.write("", true)
	if out != "" {
		g.synth(ts, out)
	}
	if blk != nil {
		g.block(blk, "")
		return false
	}
	return true
}

// flushAll ends every open stream (at [DONE] or the end of the body); it
// reports false if that blocked the stream.
func (g *sseGuard) flushAll() bool {
	for _, ts := range g.streams {
		if ts.final {
			continue
		}
		if !g.finish(ts) {
			return false
		}
	}
	return true
}

// block ends the stream with an error event and [DONE]. b is nil when the
// stream could not be read (reason says why).
func (g *sseGuard) block(b *blocked, reason string) {
	if g.ended {
		return
	}
	d := &pipeline.Decision{Status: http.StatusForbidden, Type: pipeline.TypeInvalidRequest, Code: CodePolicy,
		Message: msgOutBlocked, Stage: StageName}
	if b != nil {
		d.Rule = b.guard.name
		d.Reason = fmt.Sprintf("%s found %s in the streamed response", b.guard.name, b.typ)
	} else {
		g.o.s.metrics.unscanned.WithLabelValues(dirOutput).Inc()
		d.Status, d.Type, d.Code, d.Message = http.StatusBadGateway, pipeline.TypeUpstream, codeUnscanResp, msgUnscanResp
		d.Rule, d.Reason = "unscannable", reason
	}
	g.o.st.audit.Blocked = d.Rule
	g.o.st.ensureAudit()
	g.rc.Decision = d
	g.out = append(g.out, errorEvent(g.api, d)...)
	g.out = append(g.out, "data: [DONE]\n\n"...)
	g.end()
}

// errorEvent is the SSE error a blocked stream ends with, in the shape of
// the API's own stream errors.
func errorEvent(api llm.API, d *pipeline.Decision) []byte {
	var v any
	var b []byte
	if api == llm.APIResponses {
		b = append(b, "event: error\n"...)
		v = map[string]any{"type": "error", "code": d.Code, "message": d.Message, "param": nil}
	} else {
		v = map[string]any{"error": map[string]any{"message": d.Message, "type": d.Type, "param": nil, "code": d.Code}}
	}
	j, _ := json.Marshal(v)
	b = append(b, "data: "...)
	b = append(b, j...)
	return append(b, "\n\n"...)
}
