// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bytes"
	"io"
	"mime"
	"net/http"

	"github.com/bulwarkai/bulwark/internal/llm"
	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// maxUsageBody bounds how much of a non-streamed response is kept to read
// its usage; completions are far smaller.
const maxUsageBody = 4 << 20

// observeUsage wraps res.Body to record token usage on rc as the body
// passes through to the client.
func observeUsage(res *http.Response, rc *pipeline.RequestContext) {
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	switch mt {
	case "text/event-stream":
		res.Body = &sseObserver{src: res.Body, rc: rc, buf: make([]byte, 16<<10)}
	case "application/json":
		if res.StatusCode >= 200 && res.StatusCode < 300 {
			res.Body = &jsonObserver{src: res.Body, rc: rc}
		}
	}
}

// jsonObserver keeps a copy of a JSON response and reads usage at EOF.
type jsonObserver struct {
	src  io.ReadCloser
	rc   *pipeline.RequestContext
	body []byte
	done bool
}

func (o *jsonObserver) Read(p []byte) (int, error) {
	n, err := o.src.Read(p)
	if len(o.body)+n <= maxUsageBody {
		o.body = append(o.body, p[:n]...)
	}
	if err == io.EOF && !o.done {
		o.done = true
		if u, ok := llm.UsageFromJSON(o.body); ok {
			o.rc.Usage = u
		}
	}
	return n, err
}

func (o *jsonObserver) Close() error { return o.src.Close() }

// sseObserver passes a server-sent-event stream through event by event. It
// never holds more than one incomplete event, records usage (or, until
// usage arrives, an estimate of the completion tokens delivered), and drops
// the usage-only chunk when the gateway, not the client, asked for it.
type sseObserver struct {
	src      io.ReadCloser
	rc       *pipeline.RequestContext
	buf      []byte
	pending  []byte // read but not yet a complete event
	out      []byte // complete events ready for the client
	off      int
	err      error
	estimate int64
}

func (o *sseObserver) Read(p []byte) (int, error) {
	for o.off == len(o.out) {
		if o.err != nil {
			if len(o.pending) > 0 { // a last event without its blank line
				o.out, o.off = append(o.out[:0], o.pending...), 0
				o.pending = o.pending[:0]
				break
			}
			return 0, o.err
		}
		o.out, o.off = o.out[:0], 0
		n, err := o.src.Read(o.buf)
		o.err = err
		o.pending = append(o.pending, o.buf[:n]...)
		o.drain()
	}
	n := copy(p, o.out[o.off:])
	o.off += n
	return n, nil
}

// drain moves every complete event from pending to out.
func (o *sseObserver) drain() {
	for {
		end := llm.EventEnd(o.pending)
		if end < 0 {
			return
		}
		ev := o.pending[:end]
		if o.keep(ev) {
			o.out = append(o.out, ev...)
		}
		o.pending = o.pending[:copy(o.pending, o.pending[end:])]
	}
}

var dataPrefix = []byte("data:")

// keep inspects one event and reports whether to pass it on.
func (o *sseObserver) keep(ev []byte) bool {
	data := eventData(ev)
	if len(data) == 0 || data[0] != '{' {
		return true
	}
	if u, ok := llm.UsageFromJSON(data); ok && (u.PromptTokens > 0 || u.CompletionTokens > 0) {
		o.rc.Usage = u
		return !(o.rc.StripUsageChunk && llm.IsUsageOnlyChunk(data))
	}
	if !o.rc.Usage.Reported {
		o.estimate += llm.EstimateDeltaTokens(data)
		o.rc.Usage.CompletionTokens = o.estimate
	}
	return true
}

// eventData returns the payload of the event's data line. OpenAI-style
// streams put each JSON chunk on one data line.
func eventData(ev []byte) []byte {
	for len(ev) > 0 {
		line := ev
		if i := bytes.IndexByte(ev, '\n'); i >= 0 {
			line, ev = ev[:i], ev[i+1:]
		} else {
			ev = nil
		}
		if bytes.HasPrefix(line, dataPrefix) {
			return bytes.TrimSpace(line[len(dataPrefix):])
		}
	}
	return nil
}

func (o *sseObserver) Close() error { return o.src.Close() }
