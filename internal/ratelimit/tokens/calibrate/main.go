// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tiktoken-go/tokenizer"
)

// Count is one sample's real token counts.
type Count struct {
	Bytes  int `json:"bytes"`
	Cl100k int `json:"cl100k_base"`
	O200k  int `json:"o200k_base"`
}

func main() {
	if err := run("../testdata/corpus", "../testdata/counts.json"); err != nil {
		fmt.Fprintln(os.Stderr, "calibrate:", err)
		os.Exit(1)
	}
}

func run(dir, out string) error {
	cl, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		return err
	}
	o2, err := tokenizer.Get(tokenizer.O200kBase)
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	counts := map[string]Count{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		text := string(b)
		a, _, err := cl.Encode(text)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		c, _, err := o2.Encode(text)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		counts[strings.TrimSuffix(filepath.Base(f), ".txt")] = Count{Bytes: len(b), Cl100k: len(a), O200k: len(c)}
	}
	b, err := json.MarshalIndent(counts, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}
