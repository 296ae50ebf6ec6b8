// SPDX-License-Identifier: Apache-2.0

package pii

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwarkai/bulwark/internal/guard/entity"
)

// The evaluation reads the shared PII corpus in place; it is never copied
// into the repository. Run with -pii.table to print the markdown table
// used in docs/pii-secrets.md:
//
//	go test ./internal/guard/pii -run 'TestEval' -v -pii.table
var printTable = flag.Bool("pii.table", false, "print the PII evaluation tables as markdown on stdout")

// recallTarget is the minimum held-out recall on checksum-valid values.
const recallTarget = 0.99

// goldType maps the corpus labels to this package's types. Labels not
// listed (PERSON, STREET_ADDRESS, ...) are outside this package's scope.
var goldType = map[string]string{
	"EMAIL_ADDRESS": Email,
	"PHONE_NUMBER":  Phone,
	"CREDIT_CARD":   CreditCard,
	"IBAN_CODE":     IBAN,
	"US_SSN":        USSSN,
	"IP_ADDRESS":    IPAddress,
}

type evalSpan struct {
	Label     string `json:"label"`
	StartByte int    `json:"start_byte"`
	EndByte   int    `json:"end_byte"`
}

type evalRow struct {
	Text       string     `json:"text"`
	Spans      []evalSpan `json:"spans"`
	Source     string     `json:"source"`
	TemplateID int        `json:"template_id"`
}

// sharedDataDir finds /work/shared/data (or $BULWARK_SHARED_DATA), or "" if
// this machine does not have it.
func sharedDataDir() string {
	cands := []string{os.Getenv("BULWARK_SHARED_DATA"), filepath.Join("..", "..", "..", "..", "shared", "data"), "/work/shared/data"}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(c, "pii")); err == nil && st.IsDir() {
			return c
		}
	}
	return ""
}

func readJSONL[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer f.Close()
	var rows []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r T
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("decoding %s: %v", path, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return rows
}

// heldOut splits by template: templates whose FNV-1a hash of the decimal id
// is even were used for tuning, the rest are reported. The two corpus files
// share template ids, so the split ignores the file.
func heldOut(templateID int) bool {
	h := fnv.New32a()
	h.Write([]byte(strconv.Itoa(templateID)))
	return h.Sum32()%2 == 1
}

// goldValidity classifies a gold value by this package's validation rules:
// "" if valid, otherwise why not. Reported separately so that bad gold
// (e.g. a card number failing Luhn) is never counted as a miss.
func goldValidity(typ, v string) string {
	switch typ {
	case CreditCard:
		var d []byte
		for i := 0; i < len(v); i++ {
			if isDigit(v[i]) {
				d = append(d, v[i])
			}
		}
		switch {
		case len(d) < 13 || len(d) > 19:
			return fmt.Sprintf("%d digits (spec is 13-19)", len(d))
		case !luhn(d):
			return "fails Luhn"
		}
	case IBAN:
		if _, ok := matchIBAN(v, 0); !ok {
			return "fails mod-97/length"
		}
	case USSSN:
		var d [9]byte
		n := 0
		for i := 0; i < len(v) && n < 9; i++ {
			if isDigit(v[i]) {
				d[n] = v[i]
				n++
			}
		}
		if n != 9 || !validSSN(d) {
			return "fails SSA rules"
		}
	case IPAddress:
		if _, err := netip.ParseAddr(v); err != nil {
			return "not an IP"
		}
	}
	return ""
}

type tally struct {
	gold, valid, hit, exact int
	invalid                 map[string]int
	fp                      int
	misses                  []string
}

type evalResult struct {
	split map[bool]map[string]*tally // held-out? -> type -> tally
	rows  map[bool]int
}

func runEval(t *testing.T, d *Detector, rows []evalRow) evalResult {
	res := evalResult{split: map[bool]map[string]*tally{true: {}, false: {}}, rows: map[bool]int{}}
	for _, typ := range allTypes {
		for _, h := range []bool{true, false} {
			res.split[h][typ] = &tally{invalid: map[string]int{}}
		}
	}
	var buf []entity.Finding
	for _, r := range rows {
		ho := heldOut(r.TemplateID)
		res.rows[ho]++
		buf = d.Find(r.Text, buf[:0])
		for _, s := range r.Spans {
			typ, ok := goldType[s.Label]
			if !ok {
				continue
			}
			tl := res.split[ho][typ]
			tl.gold++
			v := r.Text[s.StartByte:s.EndByte]
			if why := goldValidity(typ, v); why != "" {
				tl.invalid[why]++
				continue
			}
			tl.valid++
			hit := false
			for _, f := range buf {
				if f.Type == typ && f.Start <= s.StartByte && f.End >= s.EndByte {
					hit = true
					if f.Start == s.StartByte && f.End == s.EndByte {
						tl.exact++
					}
					break
				}
			}
			if hit {
				tl.hit++
			} else {
				lo, hi := max(0, s.StartByte-40), min(len(r.Text), s.EndByte+20)
				tl.misses = append(tl.misses, fmt.Sprintf("tmpl %d: %q in %q", r.TemplateID, v, r.Text[lo:hi]))
			}
		}
		// A finding is a false positive if no gold span of its type
		// overlaps it.
		for _, f := range buf {
			overl := false
			for _, s := range r.Spans {
				if goldType[s.Label] == f.Type && s.StartByte < f.End && f.Start < s.EndByte {
					overl = true
					break
				}
			}
			if !overl {
				res.split[ho][f.Type].fp++
				t.Logf("false positive %s %q (template %d) in %q", f.Type, r.Text[f.Start:f.End], r.TemplateID, r.Text)
			}
		}
	}
	return res
}

func (res evalResult) table(heldOut bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| entity | gold | checksum-valid | found | recall (valid) | exact span | invalid gold | false positives |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---|---:|\n")
	for _, typ := range allTypes {
		tl := res.split[heldOut][typ]
		rec := "n/a"
		if tl.valid > 0 {
			rec = fmt.Sprintf("%.2f%%", 100*float64(tl.hit)/float64(tl.valid))
		}
		var inv []string
		for _, why := range slices.Sorted(func(yield func(string) bool) {
			for k := range tl.invalid {
				if !yield(k) {
					return
				}
			}
		}) {
			inv = append(inv, fmt.Sprintf("%d %s", tl.invalid[why], why))
		}
		invs := "0"
		if len(inv) > 0 {
			invs = strings.Join(inv, "; ")
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %d | %s | %d |\n", typ, tl.gold, tl.valid, tl.hit, rec, tl.exact, invs, tl.fp)
	}
	return b.String()
}

func loadEvalRows(t *testing.T) []evalRow {
	dir := sharedDataDir()
	if dir == "" {
		t.Skip("shared PII data not found; set BULWARK_SHARED_DATA to the shared data directory")
	}
	files, err := filepath.Glob(filepath.Join(dir, "pii", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Skipf("no PII corpus under %s", dir)
	}
	var rows []evalRow
	for _, f := range files {
		rows = append(rows, readJSONL[evalRow](t, f)...)
	}
	return rows
}

// TestEvalRecall measures recall on the held-out templates of the shared
// corpus and fails if any structured entity falls below recallTarget on
// checksum-valid gold values.
func TestEvalRecall(t *testing.T) {
	rows := loadEvalRows(t)
	d, err := New()
	if err != nil {
		t.Fatal(err)
	}
	res := runEval(t, d, rows)
	held, tune := res.table(true), res.table(false)
	t.Logf("held-out templates (%d rows):\n%s", res.rows[true], held)
	t.Logf("tuning templates (%d rows):\n%s", res.rows[false], tune)
	if *printTable {
		fmt.Printf("Held-out templates (%d rows):\n\n%s\nTuning templates (%d rows):\n\n%s", res.rows[true], held, res.rows[false], tune)
	}
	for _, typ := range allTypes {
		for _, m := range res.split[true][typ].misses {
			t.Logf("held-out miss %s: %s", typ, m)
		}
		for _, m := range res.split[false][typ].misses {
			t.Logf("tuning miss %s: %s", typ, m)
		}
		tl := res.split[true][typ]
		if tl.valid == 0 {
			continue
		}
		if rec := float64(tl.hit) / float64(tl.valid); rec < recallTarget {
			t.Errorf("held-out recall for %s = %.4f (%d/%d), want >= %.2f", typ, rec, tl.hit, tl.valid, recallTarget)
		}
	}
}

type benignRow struct {
	Text string `json:"text"`
}

// TestEvalBenign counts findings on the shared benign prompt and
// model-output corpora, which contain no labelled PII. It is a report, not
// a gate: some of these texts do hold real addresses and numbers, so every
// finding is logged for review.
func TestEvalBenign(t *testing.T) {
	dir := sharedDataDir()
	if dir == "" {
		t.Skip("shared data not found")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "guard", "benign_*.jsonl"))
	if len(files) == 0 {
		t.Skip("no benign corpus")
	}
	d, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| corpus | texts | MB | EMAIL | PHONE | CREDIT_CARD | IBAN | US_SSN | IP_ADDRESS |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var buf []entity.Finding
	for _, f := range files {
		if strings.Contains(f, "tatoeba") && testing.Short() {
			continue
		}
		rows := readJSONL[benignRow](t, f)
		counts := map[string]int{}
		bytes := 0
		for _, r := range rows {
			bytes += len(r.Text)
			buf = d.Find(r.Text, buf[:0])
			for _, x := range buf {
				counts[x.Type]++
				lo, hi := max(0, x.Start-30), min(len(r.Text), x.End+30)
				t.Logf("%s: %s %q in %q", filepath.Base(f), x.Type, r.Text[x.Start:x.End], r.Text[lo:hi])
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f |", filepath.Base(f), len(rows), float64(bytes)/1e6)
		for _, typ := range []string{Email, Phone, CreditCard, IBAN, USSSN, IPAddress} {
			fmt.Fprintf(&b, " %d |", counts[typ])
		}
		b.WriteByte('\n')
	}
	t.Logf("findings on benign corpora:\n%s", b.String())
	if *printTable {
		fmt.Printf("\nFindings on benign corpora:\n\n%s", b.String())
	}
}
