package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// frame is one sentence frame: literal text and choice slots, alternately.
type frame struct {
	parts [][]string // each part has one element (literal) or several (choice)
}

// parseFrame parses "text {a|b|c} text". Braces do not nest.
func parseFrame(line string) (frame, error) {
	var f frame
	for line != "" {
		open := strings.IndexByte(line, '{')
		if open < 0 {
			f.parts = append(f.parts, []string{line})
			break
		}
		if open > 0 {
			f.parts = append(f.parts, []string{line[:open]})
		}
		end := strings.IndexByte(line[open:], '}')
		if end < 0 {
			return frame{}, fmt.Errorf("parse frame: unclosed { in %q", line)
		}
		alts := strings.Split(line[open+1:open+end], "|")
		for _, a := range alts {
			if strings.ContainsAny(a, "{}") {
				return frame{}, fmt.Errorf("parse frame: nested braces in %q", line)
			}
		}
		f.parts = append(f.parts, alts)
		line = line[open+end+1:]
	}
	return f, nil
}

// combinations is the number of distinct expansions, capped to avoid overflow.
func (f frame) combinations() int {
	n := 1
	for _, p := range f.parts {
		n *= len(p)
		if n > 1<<30 {
			return 1 << 30
		}
	}
	return n
}

// expand draws up to k distinct expansions of f, deterministically for a seed.
func (f frame) expand(k int, seed uint64) []string {
	k = min(k, f.combinations())
	rng := rand.New(rand.NewPCG(seed, 3))
	seen := map[string]bool{}
	var out []string
	var b strings.Builder
	for tries := 0; len(out) < k && tries < 50*k; tries++ {
		b.Reset()
		for _, p := range f.parts {
			b.WriteString(p[rng.IntN(len(p))])
		}
		s := b.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
