package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A capability file (text/*.caps) groups hand-written text by need: each block
// describes one capability the way a catalog does (lines starting with ">":
// an MCP server, tool, agent or skill description) and asks for it the way a
// user does (lines starting with "?": requests in everyday words, mostly
// sharing no content word with the descriptions). Blocks are separated by
// blank lines; "#" starts a comment line. A line may hold {a|b} choices like a
// frame, expanded a few times with a fixed seed.
//
// Every line is training text for tokenlearn. The blocks are also the pairs of
// the contrastive step (fit -pairs): a request and a description of the same
// block are pulled together, those of different blocks pushed apart.

// capBlock is one capability: descriptions and requests, expanded.
type capBlock struct {
	pos      string // file:line of the block's first line
	descs    []string
	requests []string
}

// errCaps reports a malformed capability file.
var errCaps = errors.New("invalid capability file")

// parseCaps groups content lines (blank lines kept as separators) into
// blocks, expanding {a|b} choices into up to perLine variants per line.
func parseCaps(lines []line, perLine int, seed uint64) ([]capBlock, error) {
	var out []capBlock
	var cur *capBlock
	flush := func() error {
		if cur == nil {
			return nil
		}
		if len(cur.descs) == 0 || len(cur.requests) == 0 {
			return fmt.Errorf("%w: %s: a block needs at least one > description and one ? request", errCaps, cur.pos)
		}
		out = append(out, *cur)
		cur = nil
		return nil
	}
	for i, l := range lines {
		if l.text == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		kind, text := l.text[0], strings.TrimSpace(l.text[1:])
		if (kind != '>' && kind != '?') || text == "" {
			return nil, fmt.Errorf("%w: %s: a line starts with > (description) or ? (request) and has text", errCaps, l.pos)
		}
		fr, err := parseFrame(text)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", errCaps, l.pos, err)
		}
		if cur == nil {
			cur = &capBlock{pos: l.pos}
		}
		exp := fr.expand(perLine, seed+uint64(i))
		if kind == '>' {
			cur.descs = append(cur.descs, exp...)
		} else {
			cur.requests = append(cur.requests, exp...)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// capLines returns the lines of files matching pattern in dir like
// contentLines, but keeps blank lines (as empty text) since they separate
// blocks; a file's end separates blocks too.
func capLines(dir, pattern string) ([]line, error) {
	files, err := globSorted(dir, pattern)
	if err != nil {
		return nil, err
	}
	var out []line
	for _, f := range files {
		ls, err := readLines(f)
		if err != nil {
			return nil, err
		}
		for i, l := range ls {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "#") {
				continue
			}
			out = append(out, line{pos: f + ":" + strconv.Itoa(i+1), text: l})
		}
		out = append(out, line{pos: f + ":end"})
	}
	return out, nil
}

// pairLine is one line of the pairs file the corpus step writes for fit:
// block number, "d" (description) or "q" (request), and the text.
func pairLine(block int, kind byte, text string) string {
	return strconv.Itoa(block) + "\t" + string(kind) + "\t" + text
}

// readPairs reads a pairs file back into blocks.
func readPairs(path string) ([]capBlock, error) {
	ls, err := readLines(path)
	if err != nil {
		return nil, err
	}
	var out []capBlock
	for i, l := range ls {
		f := strings.SplitN(l, "\t", 3)
		if len(f) != 3 || (f[1] != "d" && f[1] != "q") || f[2] == "" {
			return nil, fmt.Errorf("read pairs: %s:%d: want BLOCK<TAB>d|q<TAB>TEXT", path, i+1)
		}
		b, err := strconv.Atoi(f[0])
		if err != nil || b < 0 || b > len(out) {
			return nil, fmt.Errorf("read pairs: %s:%d: block numbers must start at 0 and increase by one", path, i+1)
		}
		if b == len(out) {
			out = append(out, capBlock{pos: fmt.Sprintf("%s:%d", path, i+1)})
		}
		if f[1] == "d" {
			out[b].descs = append(out[b].descs, f[2])
		} else {
			out[b].requests = append(out[b].requests, f[2])
		}
	}
	for _, b := range out {
		if len(b.descs) == 0 || len(b.requests) == 0 {
			return nil, fmt.Errorf("read pairs: %s: a block without descriptions or requests", b.pos)
		}
	}
	return out, nil
}
