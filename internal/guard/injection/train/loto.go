// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// lotoGroup marks the validation rows of the template left out in a
// leave-one-template-out fold. They are scored but do not set the threshold:
// they stand for a document type the model has never seen.
const lotoGroup = "loto_left_out"

// latentTemplate is one garak latent-injection template of the training
// sources, with a test for its clean documents (the same documents without
// the planted instruction), by their fixed wording.
type latentTemplate struct {
	name, source string
	clean        func(lower string) bool
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// trainingLatentTemplates are the five latent templates that are not held
// out (see heldOutLatent). Clean documents that match none of them (a few
// résumés) stay in training in every fold.
var trainingLatentTemplates = []latentTemplate{
	{"eiffel", "#LatentInjectionFactSnippetEiffelFull", func(t string) bool { return containsAny(t, "eiffel", "the tower") }},
	{"legal", latentValidationTemplate, func(t string) bool {
		return containsAny(t, "cpa", "louisiana", "penalties", "(d) any other", "wife's claims")
	}},
	{"report", "#LatentInjectionReportFull", func(t string) bool {
		return containsAny(t, "summarize this article", "restricted stock", "hooli", "stock purchase")
	}},
	{"translation_en_fr", "#LatentInjectionTranslationEnFrFull", func(t string) bool { return containsAny(t, "french") }},
	{"latent_jailbreak", "#LatentJailbreakFull", func(t string) bool {
		return containsAny(t, "refine", "polish", "chinese", "paraphrase")
	}},
}

// runLOTO estimates how the configuration generalises to an unseen document
// template, which the ordinary validation split cannot: its one latent
// template is saturated. For each training latent template it trains without
// that template's attacks and clean documents, sets the threshold by the
// usual rule on the rest of the validation split, and reports recall on the
// left-out attacks and the false-positive rate on the left-out clean
// documents. It writes no model and never touches the held-out split.
func runLOTO(o options, rows []*row, stdout io.Writer) error {
	type saved struct {
		split     split
		heldGroup string
	}
	orig := make([]saved, len(rows))
	for i, r := range rows {
		orig[i] = saved{r.split, r.heldGroup}
	}
	var sumRecall, sumFPR, sumVal float64
	for _, tpl := range trainingLatentTemplates {
		nPos, nNeg := 0, 0
		for _, r := range rows {
			if r.split != splitTrain && r.split != splitVal {
				continue
			}
			switch {
			case r.file == "injection_indirect_garak_latent.jsonl" && strings.Contains(r.Source, tpl.source):
				nPos++
			case r.file == "benign_indirect_garak_latent_clean.jsonl" && tpl.clean(strings.ToLower(r.Text)):
				nNeg++
			default:
				// The validation template trains in the other folds, so
				// that every fold trains on four of the five templates.
				if strings.HasPrefix(r.heldGroup, "val_latent_") {
					r.split, r.heldGroup = splitTrain, ""
				}
				continue
			}
			r.split, r.heldGroup = splitVal, lotoGroup
		}
		params, model, threshold, err := fitModel(o, withPlanted(o, rows), io.Discard)
		if err != nil {
			return err
		}
		// With -dump-val, the missed attacks of each fold are written
		// there for error analysis.
		var missed *os.File
		if o.dumpVal != "" {
			if err := os.MkdirAll(o.dumpVal, 0o755); err != nil {
				return fmt.Errorf("writing missed attacks: %w", err)
			}
			if missed, err = os.Create(filepath.Join(o.dumpVal, "loto_"+tpl.name+"_missed.txt")); err != nil {
				return fmt.Errorf("writing missed attacks: %w", err)
			}
			data, err := params.MarshalBinary()
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(o.dumpVal, "loto_"+tpl.name+".bin"), data, 0o644); err != nil {
				return fmt.Errorf("writing fold model: %w", err)
			}
		}
		var pos, neg, valPos []float64
		for _, r := range rows {
			if r.split != splitVal {
				continue
			}
			switch s := model.Score(r.Text); {
			case r.heldGroup == lotoGroup && r.positive():
				pos = append(pos, s)
				if missed != nil && s < threshold {
					fmt.Fprintf(missed, "%.3f\t%q\n", s, r.Text)
				}
			case r.heldGroup == lotoGroup:
				neg = append(neg, s)
			case r.positive():
				valPos = append(valPos, s)
			}
		}
		if missed != nil {
			if err := missed.Close(); err != nil {
				return fmt.Errorf("writing missed attacks: %w", err)
			}
		}
		rec, fpr, vr := rateAbove(pos, threshold), rateAbove(neg, threshold), rateAbove(valPos, threshold)
		fmt.Fprintf(stdout, "loto %-18s attacks=%3d clean=%3d threshold=%.4f recall=%.4f clean-fpr=%.4f other-val-recall=%.4f\n",
			tpl.name, nPos, nNeg, threshold, rec, fpr, vr)
		sumRecall += rec
		sumFPR += fpr
		sumVal += vr
		for i, r := range rows {
			r.split, r.heldGroup = orig[i].split, orig[i].heldGroup
		}
	}
	n := float64(len(trainingLatentTemplates))
	fmt.Fprintf(stdout, "loto mean: recall=%.4f clean-fpr=%.4f other-val-recall=%.4f\n", sumRecall/n, sumFPR/n, sumVal/n)
	return nil
}
