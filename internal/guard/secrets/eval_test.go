// SPDX-License-Identifier: Apache-2.0

package secrets_test

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
	"github.com/bulwarkai/bulwark/internal/guard/secrets"
)

var printTable = flag.Bool("secrets.table", false, "print the benign-corpus table as markdown on stdout")

// sharedDataDir finds the shared data directory ($BULWARK_SHARED_DATA,
// ../../../../shared/data from this package, or /work/shared/data).
func sharedDataDir() string {
	for _, c := range []string{os.Getenv("BULWARK_SHARED_DATA"), filepath.Join("..", "..", "..", "..", "shared", "data"), "/work/shared/data"} {
		if c == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(c, "guard")); err == nil && st.IsDir() {
			return c
		}
	}
	return ""
}

// TestEvalBenign runs the detector over the shared benign prompt and
// model-output corpora (and the PII corpus, which has no secrets) and
// logs every finding. There is no labelled secret corpus, so this is a
// false-positive report rather than a gate.
//
//	go test ./internal/guard/secrets -run TestEvalBenign -v -secrets.table
func TestEvalBenign(t *testing.T) {
	dir := sharedDataDir()
	if dir == "" {
		t.Skip("shared data not found; set BULWARK_SHARED_DATA")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "guard", "benign_*.jsonl"))
	more, _ := filepath.Glob(filepath.Join(dir, "pii", "*.jsonl"))
	files = append(files, more...)
	d, err := secrets.New()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| corpus | texts | MB | findings | by type |\n|---|---:|---:|---:|---|\n")
	var buf []entity.Finding
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		counts := map[string]int{}
		n, size, total := 0, 0, 0
		for sc.Scan() {
			var r struct{ Text string }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			n++
			size += len(r.Text)
			buf = d.Find(r.Text, buf[:0])
			for _, x := range buf {
				counts[x.Type]++
				total++
				lo, hi := max(0, x.Start-40), min(len(r.Text), x.End+20)
				t.Logf("%s: %s %q in %q", filepath.Base(path), x.Type, r.Text[x.Start:x.End], r.Text[lo:hi])
			}
		}
		f.Close()
		var by []string
		for _, typ := range slices.Sorted(func(yield func(string) bool) {
			for k := range counts {
				if !yield(k) {
					return
				}
			}
		}) {
			by = append(by, fmt.Sprintf("%s %d", typ, counts[typ]))
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f | %d | %s |\n", filepath.Base(path), n, float64(size)/1e6, total, strings.Join(by, ", "))
	}
	t.Logf("findings on benign corpora:\n%s", b.String())
	if *printTable {
		fmt.Printf("\nSecret findings on benign corpora:\n\n%s", b.String())
	}
}
