// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/guard/entity"
	"github.com/bulwarkai/bulwark/internal/guard/redact"
)

// hit is a finding with the index of the guard that made it.
type hit struct {
	entity.Finding
	g int
}

// blocked says which guard stopped a text, and on what.
type blocked struct {
	guard *guard
	typ   string
}

// outputSide is the output guarding of one response: the guards, the
// request's redactors and what they found, shared by every text of the
// response (each choice, tool call and snapshot field).
type outputSide struct {
	s      *Stage
	st     *reqState
	guards []*guard
	// redactor numbers output placeholders. It never restores, and its
	// placeholders bypass the mask Restorer, so a redacted output value
	// cannot be turned back into an input original.
	redactor *redact.Redactor
	// mask restores the input's masked values; nil when nothing was masked.
	mask *redact.Redactor
	// spent accumulates scan time per guard, observed when the response
	// ends.
	spent []time.Duration
}

// holdBack is the most text a stream holds back for guard g: the window
// that decides any finding of its detector, capped by
// unsafeStreamHoldBack.
func (s *Stage) holdBack(g *guard) int {
	h := g.det.MaxLen()
	if s.holdCap > 0 {
		h = min(h, s.holdCap)
	}
	return h
}

// textScan guards one stream of text (one choice's content, one tool
// call's arguments, one Responses output part). Text is released once no
// finding of any guard can still cover it:
//
//   - every guard g keeps the last MaxLen(g) released bytes as look-behind
//     and holds back at most the last holdBack(g) bytes it has, because a
//     finding covering a byte lies, with all the context that decides it,
//     within MaxLen bytes on either side of it (the entity.Detector
//     contract);
//   - a guard whose detector is an entity.Pender holds back less: only
//     from the earliest value that more text could still create or change
//     (the word being written, an open PEM block), so prose is released
//     about one word behind the model;
//   - the release point then moves back to the start of any finding that
//     straddles it, so a provisional value (a card number that may still
//     grow, a PEM key without its END line) is never cut.
//
// Everything before the release point is final: blocking findings stop
// the stream, redacting ones are replaced, detecting ones are counted.
// Memory per stream is bounded by look-behind + hold-back + one chunk.
type textScan struct {
	o        *outputSide
	buf      []byte
	done     int // buf[:done] has been released
	restorer *redact.Restorer
	fs       []entity.Finding
	hits     []hit
	from     []int // per guard, where its view of buf starts
	out      strings.Builder
}

func (o *outputSide) newScan() *textScan {
	t := &textScan{o: o}
	if o.mask != nil {
		t.restorer = o.mask.NewRestorer()
	}
	return t
}

// write appends text and returns what may be released now; final
// releases everything (the stream of this text has ended). A non-nil
// *blocked means the text must not go on: nothing from the finding on has
// been released, and the returned text is what precedes it.
func (t *textScan) write(text string, final bool) (string, *blocked) {
	t.buf = append(t.buf, text...)
	t.out.Reset()
	end := len(t.buf)
	// Each guard settles its text up to the later of two points: MaxLen
	// (holdBack) bytes before the end, and, for a detector that knows
	// which values could still be growing (entity.Pender), the start of
	// the earliest such value. The least of the guards' points bounds the
	// release.
	f := end
	pending := false
	if !final {
		for _, g := range t.o.guards {
			f = min(f, end-t.o.s.holdBack(g))
			if _, ok := g.det.(entity.Pender); ok {
				pending = true
			}
		}
		if f <= t.done && !pending {
			return "", nil
		}
	}
	t.hits = t.hits[:0]
	var window string // the text the guards see, from the widest look-behind
	wfrom := t.done
	if len(t.o.guards) > 0 {
		for _, g := range t.o.guards {
			wfrom = min(wfrom, max(0, t.done-max(1, g.det.MaxLen())))
		}
		for wfrom > 0 && !utf8.RuneStart(t.buf[wfrom]) {
			wfrom--
		}
		window = string(t.buf[wfrom:])
	}
	// from[gi] is where guard gi's view starts: MaxLen bytes of released
	// text as look-behind, no more, so scans stay proportional to the
	// window, not to the response.
	from := t.from[:0]
	for _, g := range t.o.guards {
		fr := max(0, t.done-g.det.MaxLen())
		for fr > 0 && !utf8.RuneStart(t.buf[fr]) {
			fr--
		}
		from = append(from, fr)
	}
	t.from = from
	if pending {
		f = end
		for gi, g := range t.o.guards {
			safe := end - t.o.s.holdBack(g)
			if p, ok := g.det.(entity.Pender); ok {
				safe = max(safe, from[gi]+p.Pending(window[from[gi]-wfrom:]))
			}
			f = min(f, safe)
		}
		if f <= t.done {
			return "", nil
		}
	}
	for gi, g := range t.o.guards {
		start := time.Now()
		t.fs = g.det.Find(window[from[gi]-wfrom:], t.fs[:0])
		t.o.spent[gi] += time.Since(start)
		for _, fd := range t.fs {
			fd.Start += from[gi]
			fd.End += from[gi]
			if fd.End <= t.done {
				continue // released earlier, and decided then
			}
			// A finding reaching back into released text breaks the
			// window contract; act on the part still held.
			fd.Start = max(fd.Start, t.done)
			t.hits = append(t.hits, hit{Finding: fd, g: gi})
		}
	}
	for moved := true; moved; {
		moved = false
		for _, h := range t.hits {
			if h.Start < f && h.End > f {
				f, moved = h.Start, true
			}
		}
	}
	for f > t.done && f < end && !utf8.RuneStart(t.buf[f]) {
		f--
	}
	if f <= t.done && !final {
		return "", nil
	}
	var red []entity.Finding
	blockAt, blockHit := -1, hit{}
	for _, h := range t.hits {
		if h.Start >= f {
			continue
		}
		g := t.o.guards[h.g]
		switch g.action {
		case config.GuardBlock:
			if blockAt < 0 || h.Start < blockAt {
				blockAt, blockHit = h.Start, h
			}
		case config.GuardRedact:
			red = append(red, h.Finding)
		}
		t.o.st.record(dirOutput, g, h.Type)
	}
	red = entity.Merge(red)
	if blockAt >= 0 {
		// Release what precedes the finding (and any value it overlaps),
		// then stop.
		upto := blockAt
		for _, r := range red {
			if r.Start < upto && r.End > upto {
				upto = r.Start
			}
		}
		out := t.release(upto, red, true)
		return out, &blocked{guard: t.o.guards[blockHit.g], typ: blockHit.Type}
	}
	out := t.release(f, red, final)
	t.trim()
	return out, nil
}

// release emits buf[done:upto] with red replaced by placeholders, passing
// model text (not placeholders) through the mask Restorer.
func (t *textScan) release(upto int, red []entity.Finding, final bool) string {
	for _, fd := range red {
		if fd.End > upto {
			break
		}
		t.verbatim(string(t.buf[t.done:fd.Start]))
		if t.restorer != nil {
			t.out.WriteString(t.restorer.Flush())
		}
		t.out.WriteString(t.o.placeholder(fd.Type, string(t.buf[fd.Start:fd.End])))
		t.done = fd.End
	}
	t.verbatim(string(t.buf[t.done:upto]))
	t.done = upto
	if final && t.restorer != nil {
		t.out.WriteString(t.restorer.Flush())
	}
	return t.out.String()
}

func (t *textScan) verbatim(s string) {
	if t.restorer != nil {
		s = t.restorer.Write(s)
	}
	t.out.WriteString(s)
}

// trim drops released text beyond the widest look-behind, moving the rest
// down once it is at least half the buffer (amortised O(1) per byte).
func (t *textScan) trim() {
	keep := 0
	for _, g := range t.o.guards {
		keep = max(keep, g.det.MaxLen())
	}
	cut := t.done - keep
	if cut <= 0 {
		return
	}
	for cut < t.done && !utf8.RuneStart(t.buf[cut]) {
		cut++
	}
	if cut < len(t.buf)/2 {
		return
	}
	t.buf = t.buf[:copy(t.buf, t.buf[cut:])]
	t.done -= cut
}

func (o *outputSide) placeholder(typ, value string) string {
	return o.redactor.Redact(value, []entity.Finding{{Start: 0, End: len(value), Type: typ}})
}

// scanWhole guards a complete text (a non-streamed response field, or a
// snapshot of a streamed one) and returns its client-visible form.
func (o *outputSide) scanWhole(text string) (string, *blocked) {
	t := o.newScan()
	return t.write(text, true)
}

// entityTypes lists the distinct types of findings, sorted.
func entityTypes(fs []entity.Finding) []string {
	var ts []string
	for _, f := range fs {
		if !slices.Contains(ts, f.Type) {
			ts = append(ts, f.Type)
		}
	}
	slices.Sort(ts)
	return ts
}
