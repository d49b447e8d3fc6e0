package search

import (
	"hash/maphash"
	"math"
	"slices"
	"strings"
)

// The lexical half: an in-memory BM25F index. Why not bleve: the catalog is thousands to tens of thousands of short
// documents that already live in memory (the view), every query must be filtered by the caller's visible set before
// ranking, and the whole query has a budget well under a millisecond. A focused index does the visibility filter
// inside the postings walk (a bitmap test per posting), scores fields with their own weights and length
// normalisation in one pass, and costs no second copy of the catalog on disk. The measurements are in
// docs/search.md.

// posting is one document's occurrences of a term, per field (saturating at 255).
type posting struct {
	slot uint32
	tf   [numFields]uint8
}

// lexicon is the inverted index. It is guarded by the Index's lock.
type lexicon struct {
	ids      map[string]uint32
	terms    []string
	postings [][]posting // by term id, sorted by slot
	// variants maps the hash of each one-deletion variant of a term (and of the term itself) to the terms, for
	// typo tolerance by symmetric deletion (it finds insertions, deletions, substitutions and transpositions).
	variants map[uint64][]uint32
	seed     maphash.Seed
	// sorted holds the term ids in the order of their terms, for prefix lookups by binary search.
	sorted   []uint32
	fieldLen [numFields]float64 // total length per field over the indexed documents
	docs     int
	// lens are the field lengths by slot, contiguous so that scoring a posting does not chase a pointer.
	lens [][numFields]uint16
}

func newLexicon() *lexicon {
	return &lexicon{ids: map[string]uint32{}, variants: map[uint64][]uint32{}, seed: maphash.MakeSeed()}
}

// minFuzzyLen is the shortest term that typo tolerance applies to: shorter words have too many neighbours at
// distance one ("hos" would match "host", "hot", "hose").
const minFuzzyLen = 4

// lexDoc is a document's footprint in the lexicon, kept to remove it again.
type lexDoc struct {
	terms []uint32 // distinct term ids
	lens  [numFields]uint16
}

// termID returns the id of term, adding it to the vocabulary.
func (l *lexicon) termID(term string) uint32 {
	if id, ok := l.ids[term]; ok {
		return id
	}
	id := uint32(len(l.terms))
	l.ids[term] = id
	l.terms = append(l.terms, term)
	l.postings = append(l.postings, nil)
	i, _ := slices.BinarySearchFunc(l.sorted, term, func(id uint32, t string) int { return strings.Compare(l.terms[id], t) })
	l.sorted = slices.Insert(l.sorted, i, id)

	if len(term) >= minFuzzyLen {
		l.addVariant(term, id)
		for i := range len(term) {
			l.addVariant(term[:i]+term[i+1:], id)
		}
	}
	return id
}

func (l *lexicon) addVariant(v string, id uint32) {
	h := maphash.String(l.seed, v)
	if !slices.Contains(l.variants[h], id) {
		l.variants[h] = append(l.variants[h], id)
	}
}

// add indexes a document's analysed fields under slot.
func (l *lexicon) add(slot uint32, fields *[numFields][]string) lexDoc {
	var d lexDoc
	counts := map[uint32]*[numFields]uint8{}
	for f := range numFields {
		d.lens[f] = uint16(min(len(fields[f]), math.MaxUint16))
		l.fieldLen[f] += float64(d.lens[f])
		for _, t := range fields[f] {
			id := l.termID(t)
			c := counts[id]
			if c == nil {
				c = new([numFields]uint8)
				counts[id] = c
				d.terms = append(d.terms, id)
			}
			if c[f] < math.MaxUint8 {
				c[f]++
			}
		}
	}
	for _, id := range d.terms {
		p := l.postings[id]
		i, _ := slices.BinarySearchFunc(p, slot, func(e posting, s uint32) int { return cmpU32(e.slot, s) })
		l.postings[id] = slices.Insert(p, i, posting{slot: slot, tf: *counts[id]})
	}
	for len(l.lens) <= int(slot) {
		l.lens = append(l.lens, [numFields]uint16{})
	}
	l.lens[slot] = d.lens
	l.docs++
	return d
}

// remove takes a document out of the index.
func (l *lexicon) remove(slot uint32, d lexDoc) {
	for f := range numFields {
		l.fieldLen[f] -= float64(d.lens[f])
	}
	for _, id := range d.terms {
		p := l.postings[id]
		if i, ok := slices.BinarySearchFunc(p, slot, func(e posting, s uint32) int { return cmpU32(e.slot, s) }); ok {
			l.postings[id] = slices.Delete(p, i, i+1)
		}
	}
	l.docs--
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// df is the number of documents that contain a term.
func (l *lexicon) df(id uint32) int { return len(l.postings[id]) }

// idf is BM25's inverse document frequency (the +1 form, never negative).
func (l *lexicon) idf(df int) float64 {
	n := float64(l.docs)
	return math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
}

// expansion is a vocabulary term a query term stands for, with a weight below one for approximate matches.
type expansion struct {
	id     uint32
	weight float64
}

// expand finds the vocabulary terms for a query term: the term itself when documents contain it; otherwise the
// terms one edit away (typo tolerance); otherwise, for a word of four letters or more, the terms it is a prefix of
// (a half-typed word, "crashloop" → "crashloopbackoff").
func (l *lexicon) expand(term string, fuzzyWeight, prefixWeight float64, dst []expansion) []expansion {
	if id, ok := l.ids[term]; ok && l.df(id) > 0 {
		return append(dst, expansion{id: id, weight: 1})
	}
	if len(term) < minFuzzyLen {
		return dst
	}
	n := len(dst)
	try := func(v string) {
		for _, id := range l.variants[maphash.String(l.seed, v)] {
			if l.df(id) == 0 || !withinOneEdit(term, l.terms[id]) {
				continue
			}
			if !slices.ContainsFunc(dst[n:], func(e expansion) bool { return e.id == id }) {
				dst = append(dst, expansion{id: id, weight: fuzzyWeight})
			}
		}
	}
	try(term)
	for i := range len(term) {
		try(term[:i] + term[i+1:])
	}
	if len(dst) > n {
		return dst
	}
	const maxPrefix = 8
	i, _ := slices.BinarySearchFunc(l.sorted, term, func(id uint32, t string) int { return strings.Compare(l.terms[id], t) })
	for ; i < len(l.sorted) && len(dst)-n < maxPrefix; i++ {
		id := l.sorted[i]
		t := l.terms[id]
		if !strings.HasPrefix(t, term) {
			break
		}
		if len(t) > len(term) && l.df(id) > 0 {
			dst = append(dst, expansion{id: id, weight: prefixWeight})
		}
	}
	return dst
}

// withinOneEdit reports whether a and b differ by at most one insertion, deletion, substitution or transposition of
// adjacent bytes (optimal string alignment distance ≤ 1).
func withinOneEdit(a, b string) bool {
	if a == b {
		return true
	}
	la, lb := len(a), len(b)
	if la-lb > 1 || lb-la > 1 {
		return false
	}
	i := 0
	for i < la && i < lb && a[i] == b[i] {
		i++
	}
	switch {
	case la == lb:
		if a[i+1:] == b[i+1:] {
			return true // substitution
		}
		return i+1 < la && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:] // transposition
	case la > lb:
		return a[i+1:] == b[i:]
	default:
		return a[i:] == b[i+1:]
	}
}
