// SPDX-License-Identifier: Apache-2.0

package redact

// Restorer restores placeholders in a streamed response. A model emits
// text in arbitrary pieces, so "[EMA" may end one chunk and "IL_1]" start
// the next; the Restorer holds back only such a tail, one that could still
// become a placeholder its Redactor issued, and releases everything else
// at once.
//
// For any split of a text into chunks, the concatenation of Write results
// followed by Flush equals Restore of the whole text, provided the
// Redactor issues no new placeholders mid-stream. Held-back bytes start at
// an ASCII '[', so chunks of valid UTF-8 go out as valid UTF-8.
//
// A Restorer is not safe for concurrent use; a stream is sequential.
type Restorer struct {
	r       *Redactor
	pending string
}

// NewRestorer returns a Restorer for one response stream.
func (r *Redactor) NewRestorer() *Restorer { return &Restorer{r: r} }

// Write takes the next chunk and returns the text that is ready to send,
// possibly empty. It allocates only when a '[' is involved.
func (s *Restorer) Write(chunk string) string {
	text := chunk
	if s.pending != "" {
		text = s.pending + chunk
	}
	out, held := s.r.restore(text, true)
	s.pending = held
	return out
}

// Flush returns whatever is still held back, verbatim: at the end of the
// stream an incomplete placeholder is just text.
func (s *Restorer) Flush() string {
	out := s.pending
	s.pending = ""
	return out
}
