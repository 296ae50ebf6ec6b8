// SPDX-License-Identifier: Apache-2.0

package injection

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// readShortBenign reads testdata/short_benign_eval.txt: everyday chat
// messages a gateway sees constantly (greetings, thanks, "ok", "continue",
// one-word questions, in several languages). The first model flagged "hi"
// (0.750 against a threshold of 0.712) because jailbreaks often open with
// "Hi ChatGPT". The list is for evaluation only: the trainer never reads it,
// and its own short benign rows are worded differently (checked in train/).
func readShortBenign(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/short_benign_eval.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "# ") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestScoreShortBenign(t *testing.T) {
	m := Default()
	texts := readShortBenign(t)
	if len(texts) < 60 {
		t.Fatalf("short benign list has %d messages, want >= 60", len(texts))
	}
	for _, text := range texts {
		t.Run(text, func(t *testing.T) {
			if got := m.Score(text); got >= m.Threshold() {
				t.Errorf("Score(%q) = %.4f, want < threshold %.4f", text, got, m.Threshold())
			}
		})
	}
}
