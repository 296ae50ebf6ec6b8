// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/bulwarkai/bulwark/internal/guard/injection"
)

// ErrUsage marks a command line EvalCommand cannot run; the CLI prints the
// usage (already written to stderr) and exits 2.
var ErrUsage = errors.New("usage")

// files is a repeatable --data flag.
type files []string

func (f *files) String() string { return strings.Join(*f, ",") }

func (f *files) Set(v string) error {
	*f = append(*f, v)
	return nil
}

// EvalCommand implements "bulwark guard eval --data FILE.jsonl...
// [--threshold X]": it scores labelled JSONL rows ({"text","label"},
// label benign, injection or jailbreak) with the embedded prompt-injection
// model and prints recall, false-positive rate, precision, F1 and latency
// percentiles per file and overall. Files may also follow the flags.
func EvalCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("guard eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var data files
	fs.Var(&data, "data", "labelled JSONL file (repeatable)")
	threshold := fs.Float64("threshold", 0, "decision threshold in (0,1]; default the model's trained threshold")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bulwark guard eval --data FILE.jsonl [--data FILE.jsonl...] [--threshold X]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	data = append(data, fs.Args()...)
	if len(data) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: guard eval needs at least one --data file", ErrUsage)
	}
	if *threshold < 0 || *threshold > 1 {
		fs.Usage()
		return fmt.Errorf("%w: --threshold %v out of range (0,1]", ErrUsage, *threshold)
	}
	if _, err := injection.Evaluate(ctx, injection.Default(), data, *threshold, stdout); err != nil {
		return fmt.Errorf("guard eval: %w", err)
	}
	return nil
}
