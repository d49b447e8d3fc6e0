// Command train builds the built-in static embedding table from the outputs
// of the USE-lite teacher (../teacher.js). It is run by ../build.sh; see
// ../../model/PROVENANCE.md for the recipe and the figures of the committed
// table.
//
//	train words   -glove wink.json -top N -out words-base.txt
//	train corpus  -dumpavail dumpavail.txt -text DIR -out sentences.txt
//	train extra   -base words-base.txt -sentences sentences.txt -min-freq 3 -out words-extra.txt
//	train fit     -words a.txt,b.txt -wordvecs a.f32,b.f32 -sentences s.txt -targets s.f32 -out model.semb
//	train eval    -model model.semb [-corpus corpus.json -queries queries.json]
//	train contrast -table in.semb -pairs pairs.tsv -out out.semb
//	train hybrid  [-model model.semb] -dataset DIR [-tuning JSON]
//
// Every step is deterministic: inputs are sorted or read in file order and the
// only randomness comes from fixed seeds.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

// errUsage reports a bad command line.
var errUsage = errors.New("usage: train words|corpus|extra|fit|contrast|eval|hybrid [flags]")

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("component", "embed-distill")
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "words":
		return cmdWords(fs, args[1:], log)
	case "corpus":
		return cmdCorpus(fs, args[1:], log)
	case "extra":
		return cmdExtra(fs, args[1:], log)
	case "fit":
		return cmdFit(fs, args[1:], log)
	case "contrast":
		return cmdContrast(fs, args[1:], log)
	case "eval":
		return cmdEval(fs, args[1:], log)
	case "hybrid":
		return cmdHybrid(fs, args[1:], stdout, log)
	}
	return fmt.Errorf("%w (got %q)", errUsage, args[0])
}
