// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// row is one labelled example with where it came from.
type row struct {
	Text    string `json:"text"`
	Label   string `json:"label"`
	Source  string `json:"source"`
	License string `json:"license"`

	file  string // base name of the file it was read from
	group string // weighting group (a file, or tatoeba as a whole)
	split split
	// heldGroup names the held-out (or validation) group of the row.
	heldGroup string
	// clusterKey identifies the near-duplicate cluster of a jailbreak.
	clusterKey string
}

type split uint8

const (
	splitTrain split = iota
	splitVal
	splitTest
	splitDrop // subsampled away
)

func (r *row) positive() bool { return r.Label != "benign" }

// readJSONL reads every *.jsonl file in dir (sorted, so runs are
// reproducible).
func readJSONL(dir string) ([]*row, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("listing %s: no .jsonl files", dir)
	}
	sort.Strings(names)
	var rows []*row
	for _, name := range names {
		rs, err := readFile(name)
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	return rows, nil
}

func readFile(name string) ([]*row, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading data: %w", err)
	}
	defer f.Close()
	var rows []*row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	base := filepath.Base(name)
	for line := 1; sc.Scan(); line++ {
		r := &row{file: base}
		if err := json.Unmarshal(sc.Bytes(), r); err != nil {
			return nil, fmt.Errorf("reading %s line %d: %w", name, line, err)
		}
		switch r.Label {
		case "benign", "injection", "jailbreak":
		default:
			return nil, fmt.Errorf("reading %s line %d: label %q (want benign, injection or jailbreak)", name, line, r.Label)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return rows, nil
}

// stableHash gives a seed-dependent but platform-independent number for a
// key; all data splits are a function of it, never of file order or maps.
func stableHash(seed uint64, key string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s", seed, key)
	return h.Sum64()
}

// inPercent reports whether key falls in the first pct percent.
func inPercent(seed uint64, key string, pct uint64) bool {
	return stableHash(seed, key)%100 < pct
}

// Held-out latent-injection templates: garak renders each of these from one
// template, so rows of a template are near-copies and must be held out
// together. Four of the nine are held out: both WHOIS templates, the résumé
// and the English→Chinese translation.
var heldOutLatent = []string{
	"#LatentInjectionResumeFull",
	"#LatentInjectionTranslationEnZhFull",
	"#LatentWhois ",
	"#LatentWhoisSnippetFull",
}

// cleanDocTemplateHeldOut maps a benign_indirect_garak_latent_clean document
// (the same documents with the injection removed) to whether its template is
// held out, by the template's fixed wording.
func cleanDocTemplateHeldOut(text string) bool {
	t := strings.ToLower(text)
	return strings.Contains(t, "whois") || strings.Contains(t, "domain name:") ||
		strings.Contains(t, "domain is malicious") || strings.Contains(t, "candidate") ||
		strings.Contains(t, "from english to chinese")
}

// Percentages for splits that are not by template.
const (
	valPercent       = 15 // of training rows, for the threshold
	jailbreakHeldOut = 30 // of near-duplicate clusters
	tatoebaHeldOut   = 25 // of languages
	tatoebaPerLang   = 120
	tatoebaTestLang  = 150
	wildguardHeldOut = 50
	p3HeldOut        = 25 // of prompt templates
	gsm8kTrainMax    = 2500
)

// assignSplits decides for every row whether it trains, validates (sets the
// threshold) or is held out for the report. Held-out data is chosen by
// source, template, language or near-duplicate cluster, never by a random
// split of templated rows. Hand-written rows under testdata/heldout are
// always held out.
func assignSplits(seed uint64, rows []*row) {
	var jailbreaks []*row
	for _, r := range rows {
		r.group = r.file
		switch {
		case strings.HasPrefix(r.file, "heldout/"):
			r.split, r.heldGroup = splitTest, "handwritten_"+strings.TrimSuffix(strings.TrimPrefix(r.file, "heldout/"), ".jsonl")
		case r.file == "synthetic/short":
			// Short chat messages get their own weight budget: thousands of
			// long generated rows would otherwise outweigh them.
			r.group = "synthetic_short"
		case strings.HasPrefix(r.file, "synthetic/"):
			r.group = "synthetic_" + r.Label
		case strings.HasPrefix(r.file, "train/"):
			r.group = "handwritten"
			if r.positive() {
				r.group = "handwritten_attack"
			}
		case r.file == "injection_indirect_garak_latent.jsonl":
			if slices.ContainsFunc(heldOutLatent, func(t string) bool { return strings.Contains(r.Source+" ", t) }) {
				r.split, r.heldGroup = splitTest, "latent_injection_heldout_templates"
			}
		case r.file == "benign_indirect_garak_latent_clean.jsonl":
			if cleanDocTemplateHeldOut(r.Text) {
				r.split, r.heldGroup = splitTest, "latent_clean_heldout_templates"
			}
		case r.file == "injection_garak.jsonl":
			// The system-prompt extraction attacks are a different family
			// from PromptInject's hijacks: hold the whole family out.
			if strings.Contains(r.Source, "sysprompt_extraction") {
				r.split, r.heldGroup = splitTest, "garak_sysprompt_extraction"
			}
		case strings.HasPrefix(r.file, "jailbreak_"):
			r.group = "jailbreak"
			jailbreaks = append(jailbreaks, r)
		case strings.HasPrefix(r.file, "benign_tatoeba"):
			r.group = "tatoeba"
			lang := r.Source[strings.LastIndexByte(r.Source, '.')+1:]
			if inPercent(seed, "lang:"+lang, tatoebaHeldOut) {
				r.split, r.heldGroup = splitTest, "tatoeba_heldout_languages"
			}
		case r.file == "benign_wildguard.jsonl":
			// One source, not templated: a seeded split by text.
			if inPercent(seed, "wg:"+r.Text, wildguardHeldOut) {
				r.split, r.heldGroup = splitTest, "wildguard_heldout_half"
			}
		case r.file == "benign_selfinstruct.jsonl":
			if strings.Contains(r.Source, "seed_tasks") {
				r.split, r.heldGroup = splitTest, "selfinstruct_seed_tasks"
			}
		case r.file == "benign_gsm8k.jsonl":
			if strings.Contains(r.Source, "test.jsonl") {
				r.split, r.heldGroup = splitTest, "gsm8k_test"
			}
		case r.file == "benign_p3_selfinstruct.jsonl":
			if inPercent(seed, "p3:"+r.Source, p3HeldOut) {
				r.split, r.heldGroup = splitTest, "p3_heldout_templates"
			}
		case r.file == "benign_garak_snowball.jsonl":
			if strings.Contains(r.Source, "graph_connectivity") {
				r.split, r.heldGroup = splitTest, "snowball_graph_connectivity"
			}
		case r.file == "benign_llm_outputs_selfinstruct.jsonl":
			if strings.Contains(r.Source, "text-davinci-003") || strings.Contains(r.Source, "davinci_predictions") {
				r.split, r.heldGroup = splitTest, "llm_outputs_heldout_models"
			}
		case r.file == "benign_humaneval.jsonl":
			if inPercent(seed, "he:"+r.Source, 50) {
				r.split, r.heldGroup = splitTest, "humaneval_heldout_half"
			}
		}
	}
	// Jailbreak prompts are endlessly re-posted with small edits (DAN 6.0,
	// 6.2, 7.0...), across both jailbreak files. Hold out whole clusters of
	// near-duplicates so that a held-out prompt has no twin in training.
	for _, c := range clusters(jailbreaks) {
		held := inPercent(seed, "jb:"+c[0].Text, jailbreakHeldOut)
		for _, r := range c {
			r.clusterKey = c[0].Text
			if held {
				r.split, r.heldGroup = splitTest, "jailbreak_heldout_clusters"
			}
		}
	}
	subsample(seed, rows)
	assignValidation(seed, rows)
}

// heldOutLegalValidation marks the latent template used for validation.
const latentValidationTemplate = "#LatentInjectionFactSnippetLegalFull"

// assignValidation moves part of the training rows to the validation split,
// which picks the threshold and is used to compare design choices. Like the
// held-out split it is by template and cluster where the data is templated,
// so that it measures generalisation rather than memorisation.
func assignValidation(seed uint64, rows []*row) {
	for _, r := range rows {
		if r.split != splitTrain || strings.HasPrefix(r.file, "synthetic/") {
			continue
		}
		val := false
		switch {
		case r.file == "injection_indirect_garak_latent.jsonl":
			val = strings.Contains(r.Source, latentValidationTemplate)
		case r.file == "benign_indirect_garak_latent_clean.jsonl":
			t := strings.ToLower(r.Text)
			val = strings.Contains(t, "cpa") || strings.Contains(t, "louisiana") || strings.Contains(t, "penalties") || strings.Contains(t, "(d) any other")
		case r.group == "jailbreak":
			val = inPercent(seed, "jbval:"+r.clusterKey, valPercent)
		case r.group == "tatoeba":
			val = inPercent(seed, "langval:"+r.Source[strings.LastIndexByte(r.Source, '.')+1:], 10)
		case r.file == "benign_p3_selfinstruct.jsonl":
			val = inPercent(seed, "p3val:"+r.Source, valPercent)
		case strings.HasPrefix(r.file, "train/"):
			val = inPercent(seed, "hwval:"+r.Text, 20)
		default:
			val = inPercent(seed, "val:"+r.Text, valPercent)
		}
		if val {
			r.split = splitVal
			r.heldGroup = "val_" + strings.TrimSuffix(strings.ReplaceAll(r.group, "/", "_"), ".jsonl")
			if r.file == "injection_indirect_garak_latent.jsonl" || r.file == "benign_indirect_garak_latent_clean.jsonl" {
				r.heldGroup = "val_latent_" + r.Label
			}
		}
	}
}

// subsample caps the huge easy sources so they do not swamp training time;
// weighting already keeps them from swamping the loss.
func subsample(seed uint64, rows []*row) {
	perLang := map[string]int{}
	gsm := 0
	for _, r := range rows {
		switch {
		case r.group == "tatoeba":
			lang := r.Source[strings.LastIndexByte(r.Source, '.')+1:]
			limit := tatoebaPerLang
			if r.split == splitTest {
				limit = tatoebaTestLang
			}
			// Rows within a language are in corpus order; take a seeded
			// sample rather than the first N.
			if perLang[lang] >= limit || !inPercent(seed, "tt:"+r.Text, 20) {
				r.split = splitDrop
				continue
			}
			perLang[lang]++
		case r.file == "benign_gsm8k.jsonl" && r.split == splitTrain:
			if gsm >= gsm8kTrainMax || !inPercent(seed, "gsm:"+r.Text, 40) {
				r.split = splitDrop
				continue
			}
			gsm++
		}
	}
}

// clusters groups rows whose word 4-gram shingle sets overlap (Jaccard >=
// 0.3), with union-find. Clusters are returned in input order.
func clusters(rows []*row) [][]*row {
	sets := make([][]uint64, len(rows))
	for i, r := range rows {
		sets[i] = shingles(r.Text)
	}
	parent := make([]int, len(rows))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i := range rows {
		for j := i + 1; j < len(rows); j++ {
			if jaccard(sets[i], sets[j]) >= 0.3 {
				a, b := find(i), find(j)
				if a != b {
					parent[max(a, b)] = min(a, b)
				}
			}
		}
	}
	byRoot := map[int][]*row{}
	var roots []int
	for i, r := range rows {
		root := find(i)
		if _, ok := byRoot[root]; !ok {
			roots = append(roots, root)
		}
		byRoot[root] = append(byRoot[root], r)
	}
	out := make([][]*row, 0, len(roots))
	for _, root := range roots {
		out = append(out, byRoot[root])
	}
	return out
}

func shingles(text string) []uint64 {
	words := strings.Fields(strings.ToLower(text))
	var out []uint64
	for i := 0; i+4 <= len(words); i++ {
		h := fnv.New64a()
		h.Write([]byte(strings.Join(words[i:i+4], " ")))
		out = append(out, h.Sum64())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func jaccard(a, b []uint64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	i, j, inter := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			inter++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}
