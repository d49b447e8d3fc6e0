package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcpgw/mcpgw/registry/search/embed/static"
)

// Sentence length bounds, in tokens, for Debian descriptions: shorter lines
// are bare names ("GNU C compiler" is kept, "libfoo" is not), longer ones are
// rare and slow for the teacher.
const (
	minDebianTokens = 3
	maxDebianTokens = 30
)

// shuffleSeed fixes the sentence order, and with it the held-out split.
const shuffleSeed = 20261124

// cmdCorpus builds the teacher's sentence list: Debian package short
// descriptions plus the hand-written in-domain text, lower-cased (the student
// lower-cases too), de-duplicated, sorted and then shuffled with a fixed seed.
func cmdCorpus(fs *flag.FlagSet, args []string, log *slog.Logger) error {
	dump := fs.String("dumpavail", "", "output of apt-cache dumpavail")
	textDir := fs.String("text", "", "directory of hand-written *.txt files (one sentence per line, # comments)")
	outDebian := fs.String("out-debian", "", "output list of Debian sentences")
	outText := fs.String("out-text", "", "output list of in-domain sentences")
	perFrame := fs.Int("per-frame", 40, "distinct expansions drawn from each frame of *.frames")
	outPairs := fs.String("out-pairs", "", "output pairs of *.caps blocks for fit -pairs (optional)")
	perCapLine := fs.Int("per-cap-line", 3, "distinct expansions drawn from each line of *.caps")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dump == "" || *textDir == "" || *outDebian == "" || *outText == "" {
		return errors.New("corpus: -dumpavail, -text, -out-debian and -out-text are required")
	}
	seen := map[string]bool{}
	var sents *[]string
	add := func(s string, minTok, maxTok int) bool {
		s = normSentence(s)
		n := len(static.Tokenize(s))
		if n < minTok || n > maxTok || seen[s] {
			return false
		}
		seen[s] = true
		*sents = append(*sents, s)
		return true
	}
	var debSents, textSents []string
	debian, err := debianDescriptions(*dump)
	if err != nil {
		return err
	}
	slices.Sort(debian)
	sents = &debSents
	nDeb := 0
	for _, d := range debian {
		if add(d, minDebianTokens, maxDebianTokens) {
			nDeb++
		}
	}
	texts, err := contentLines(*textDir, "*.txt")
	if err != nil {
		return err
	}
	if len(texts) == 0 {
		return fmt.Errorf("corpus: no text in %s/*.txt", *textDir)
	}
	sents = &textSents
	nText := 0
	for _, l := range texts {
		if add(l.text, 2, 80) {
			nText++
		}
	}
	frames, err := contentLines(*textDir, "*.frames")
	if err != nil {
		return err
	}
	for i, l := range frames {
		fr, err := parseFrame(l.text)
		if err != nil {
			return fmt.Errorf("corpus: %s: %w", l.pos, err)
		}
		for _, s := range fr.expand(*perFrame, uint64(i)+1) {
			if add(s, 2, 80) {
				nText++
			}
		}
	}
	nFrames := len(frames)
	caps, err := capLines(*textDir, "*.caps")
	if err != nil {
		return err
	}
	blocks, err := parseCaps(caps, *perCapLine, 1)
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	var pairs []string
	for i, b := range blocks {
		for _, d := range b.descs {
			add(d, 2, 80)
			pairs = append(pairs, pairLine(i, 'd', normSentence(d)))
		}
		for _, r := range b.requests {
			add(r, 2, 80)
			pairs = append(pairs, pairLine(i, 'q', normSentence(r)))
		}
	}
	nText = len(textSents)
	// Debian descriptions come first in the dedup order, so in-domain text
	// never duplicates them; each list is shuffled on its own.
	for i, list := range [][]string{debSents, textSents} {
		rng := rand.New(rand.NewPCG(shuffleSeed, uint64(i)))
		rng.Shuffle(len(list), func(a, b int) { list[a], list[b] = list[b], list[a] })
	}
	log.Info("corpus", "debian", nDeb, "in-domain", nText, "frames", nFrames, "capabilities", len(blocks))
	if err := writeLines(*outDebian, debSents); err != nil {
		return err
	}
	if *outPairs != "" {
		if err := writeLines(*outPairs, pairs); err != nil {
			return err
		}
	}
	return writeLines(*outText, textSents)
}

// normSentence lower-cases s (the student lower-cases too) and collapses its
// white space.
func normSentence(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// globSorted lists the files matching pattern in dir, in name order.
func globSorted(dir, pattern string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", pattern, err)
	}
	slices.Sort(files)
	return files, nil
}

// debianDescriptions returns the short description of every package stanza
// in apt-cache dumpavail output.
func debianDescriptions(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read descriptions: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "Description: "); ok {
			out = append(out, d)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read descriptions: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read descriptions: no Description fields in %s (run apt-get update first)", path)
	}
	return out, nil
}

// line is one content line of a hand-written file.
type line struct {
	pos  string // file:line, for error messages
	text string
}

// contentLines returns the trimmed, non-empty, non-comment (#) lines of the
// files matching pattern in dir, files in name order.
func contentLines(dir, pattern string) ([]line, error) {
	files, err := globSorted(dir, pattern)
	if err != nil {
		return nil, err
	}
	var out []line
	for _, f := range files {
		lines, err := readLines(f)
		if err != nil {
			return nil, err
		}
		for i, l := range lines {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			out = append(out, line{pos: fmt.Sprintf("%s:%d", f, i+1), text: l})
		}
	}
	return out, nil
}
