// SPDX-License-Identifier: Apache-2.0

// Command bipia turns a checkout of Microsoft's BIPIA benchmark
// (https://github.com/microsoft/BIPIA, MIT; its contexts carry their own
// licences, see its LICENSE) into JSONL the injection classifier can be
// scored on:
//
//	go run ./internal/guard/injection/train/bipia -dir /work/external/bipia \
//	    -split test -out DIR [-tasks email,table,code] [-max-rows 3000] [-seed 1]
//
// It writes three files to DIR:
//
//   - bipia_<split>_attacks.jsonl: contexts with an attack inserted at the
//     start, middle and end, exactly as BIPIA's builders do (see insert);
//   - bipia_<split>_clean.jsonl: every distinct clean context;
//   - bipia_<split>_attack_strings.jsonl: the bare attack strings.
//
// "text" is the external document a gateway scans (the email, the table,
// the Stack Overflow answer of the code task), never BIPIA's prompt
// wrapper or the user's question. The data is derived from a public
// benchmark, so DIR must be outside the repository. Runs are
// deterministic for a given -seed and -insert-seed.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// positions are BIPIA's insert_start, insert_middle and insert_end.
var positions = []string{"start", "middle", "end"}

// task is one BIPIA task: its context files and the attack kind BIPIA
// pairs with it (code contexts get code attacks, the others text attacks).
type task struct {
	name   string
	attack string // "text" or "code"
}

var allTasks = []task{{"email", "text"}, {"table", "text"}, {"code", "code"}}

// attack is one attack string; BIPIA names it "<category>-<index>".
type attack struct {
	category string
	index    int
	text     string
}

func (a attack) name() string { return fmt.Sprintf("%s-%d", a.category, a.index) }

// outRow is one line of output. Label is 1/0 by default; -labels names
// writes injection/benign, which is what `train eval` reads.
type outRow struct {
	Text   string `json:"text"`
	Label  any    `json:"label"`
	Source string `json:"source"`
}

type options struct {
	dir, split, out string
	tasks           []task
	maxRows         int
	seed            uint64
	insertSeed      uint64
	labelNames      bool
}

func main() {
	var o options
	var tasks, labels string
	flag.StringVar(&o.dir, "dir", "", "BIPIA checkout (holds benchmark/)")
	flag.StringVar(&o.split, "split", "test", "test or train")
	flag.StringVar(&o.out, "out", "", "output directory (outside the repository)")
	flag.StringVar(&tasks, "tasks", "email,table,code", "tasks to convert")
	flag.IntVar(&o.maxRows, "max-rows", 3000, "cap on rows in the attacks file")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the context sample")
	flag.Uint64Var(&o.insertSeed, "insert-seed", 2023, "BIPIA's builder seed, the random_state of insert_middle (see insert)")
	flag.StringVar(&labels, "labels", "numeric", "numeric (1/0) or names (injection/benign)")
	flag.Parse()
	if err := o.parse(tasks, labels); err != nil {
		fmt.Fprintln(os.Stderr, "bipia:", err)
		flag.Usage()
		os.Exit(2)
	}
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bipia:", err)
		os.Exit(1)
	}
}

func (o *options) parse(tasks, labels string) error {
	if o.dir == "" || o.out == "" {
		return errors.New("-dir and -out are required")
	}
	if o.split != "test" && o.split != "train" {
		return fmt.Errorf("-split %q: want test or train", o.split)
	}
	for _, name := range strings.Split(tasks, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(allTasks, func(t task) bool { return t.name == name })
		if i < 0 {
			return fmt.Errorf("-tasks: unknown task %q", name)
		}
		o.tasks = append(o.tasks, allTasks[i])
	}
	switch labels {
	case "numeric":
	case "names":
		o.labelNames = true
	default:
		return fmt.Errorf("-labels %q: want numeric or names", labels)
	}
	if o.maxRows < 1 {
		return errors.New("-max-rows must be positive")
	}
	return nil
}

func (o options) label(positive bool) any {
	switch {
	case o.labelNames && positive:
		return "injection"
	case o.labelNames:
		return "benign"
	case positive:
		return 1
	default:
		return 0
	}
}

// run converts the benchmark and prints row counts to w.
func run(o options, w io.Writer) error {
	var kinds []string // attack kinds the tasks use, text before code
	for _, kind := range []string{"text", "code"} {
		if slices.ContainsFunc(o.tasks, func(t task) bool { return t.attack == kind }) {
			kinds = append(kinds, kind)
		}
	}
	attacks := map[string][]attack{}
	for _, kind := range kinds {
		as, err := readAttacks(filepath.Join(o.dir, "benchmark", kind+"_attack_"+o.split+".json"))
		if err != nil {
			return err
		}
		attacks[kind] = as
	}
	contexts := map[string][]string{}
	for _, t := range o.tasks {
		cs, err := readContexts(filepath.Join(o.dir, "benchmark", t.name, o.split+".jsonl"))
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			return fmt.Errorf("task %s: no contexts", t.name)
		}
		contexts[t.name] = cs
	}

	attackRows := buildAttacks(o, attacks, contexts)
	var cleanRows []outRow
	for _, t := range o.tasks {
		for _, c := range contexts[t.name] {
			cleanRows = append(cleanRows, outRow{c, o.label(false), "bipia/" + t.name + "/clean"})
		}
	}
	var stringRows []outRow
	for _, kind := range kinds {
		for _, a := range attacks[kind] {
			stringRows = append(stringRows, outRow{a.text, o.label(true), "bipia/" + kind + "/" + a.category})
		}
	}

	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		kind string
		rows []outRow
	}{{"attacks", attackRows}, {"clean", cleanRows}, {"attack_strings", stringRows}} {
		name := filepath.Join(o.out, fmt.Sprintf("bipia_%s_%s.jsonl", o.split, f.kind))
		if err := writeJSONL(name, f.rows); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %d rows\n", name, len(f.rows))
		printCounts(w, f.rows)
	}
	return nil
}

// buildAttacks inserts every attack of a task's kind into the same k
// sampled contexts at all three positions, so positions can be compared
// pairwise. k is the per-task share of -max-rows divided evenly over the
// task's attacks and the positions.
func buildAttacks(o options, attacks map[string][]attack, contexts map[string][]string) []outRow {
	var rows []outRow
	perTask := o.maxRows / len(o.tasks)
	for _, t := range o.tasks {
		as, cs := attacks[t.attack], contexts[t.name]
		k := perTask / (len(as) * len(positions))
		if k < 1 {
			fmt.Fprintf(os.Stderr, "bipia: -max-rows %d is too small to give every %s attack a context; using one each\n", o.maxRows, t.name)
			k = 1
		}
		k = min(k, len(cs))
		for _, a := range as {
			for _, ci := range sampleContexts(o.seed, t.name, a.name(), len(cs), k) {
				for _, pos := range positions {
					rows = append(rows, outRow{
						Text:   insert(pos, cs[ci], a.text, o.insertSeed),
						Label:  o.label(true),
						Source: "bipia/" + t.name + "/" + a.category + "/" + pos,
					})
				}
			}
		}
	}
	return rows
}

// sampleContexts draws k of n context indices without replacement. The
// generator is keyed by task and attack so that adding a task or an attack
// does not reshuffle the others.
func sampleContexts(seed uint64, task, attackName string, n, k int) []int {
	h := fnv.New64a()
	h.Write([]byte(task + "\x00" + attackName))
	sum := h.Sum64()
	rng := newPyRandom([]uint32{uint32(seed), uint32(seed >> 32), uint32(sum), uint32(sum >> 32)})
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < k; i++ {
		j := i + rng.randbelow(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx[:k]
}

// insert places attack in context the way BIPIA's bipia/data/utils.py
// does: insert_start is "\n".join([attack, context]), insert_end
// "\n".join([context, attack]), and insert_middle splits the context at the
// start of a sentence picked by random.Random(seed).sample of NLTK's
// PunktSentenceTokenizer().span_tokenize(context), then joins the three
// parts with "\n". BIPIA re-seeds that generator with its builder seed for
// every call, so one seed fixes where "middle" lands: at sentence
// randbelow(n) of n, the same draw for every context with n sentences.
// The default 2023 lands a third to three quarters of the way through the
// sentences (sentence 1 of 2 or 3); seed 1, for example, would land in the
// first quarter, before the first sentence of any context with up to three.
func insert(pos, context, attack string, seed uint64) string {
	switch pos {
	case "start":
		return attack + "\n" + context
	case "end":
		return context + "\n" + attack
	}
	rs := []rune(context)
	starts := sentenceStarts(rs)
	start := 0 // Python would raise on a context without sentences
	if len(starts) > 0 {
		rng := newPyRandom(pySeedKey(seed))
		start = starts[rng.randbelow(len(starts))]
	}
	return string(rs[:start]) + "\n" + attack + "\n" + string(rs[start:])
}

// readAttacks reads a BIPIA attack file ({"category": ["attack", ...]})
// keeping the file's order, which Go maps would lose.
func readAttacks(name string) ([]attack, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("%s: want a JSON object", name)
	}
	var out []attack
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		cat, _ := t.(string)
		var texts []string
		if err := dec.Decode(&texts); err != nil {
			return nil, fmt.Errorf("%s: category %q: %w", name, cat, err)
		}
		for i, s := range texts {
			out = append(out, attack{cat, i, s})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no attacks", name)
	}
	return out, nil
}

// readContexts reads the "context" of every line of a BIPIA task file.
// The code task stores it as a list of lines, which BIPIA joins with
// "\n". Exact duplicates (BIPIA asks several questions about one email or
// table) are kept once, in first-seen order, so no document is counted
// twice.
func readContexts(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var rec struct {
			Context json.RawMessage `json:"context"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, line, err)
		}
		var s string
		if err := json.Unmarshal(rec.Context, &s); err != nil {
			var lines []string
			if err2 := json.Unmarshal(rec.Context, &lines); err2 != nil {
				return nil, fmt.Errorf("%s line %d: context is neither a string nor a list of strings", name, line)
			}
			s = strings.Join(lines, "\n")
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

func writeJSONL(name string, rows []outRow) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// printCounts prints rows per source, sorted, for the report.
func printCounts(w io.Writer, rows []outRow) {
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Source]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %6d  %s\n", counts[k], k)
	}
}
