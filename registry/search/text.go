package search

import (
	"unicode"
	"unicode/utf8"
)

// The lexical analyser: text → lower-cased terms, stopwords dropped, lightly stemmed. Documents and queries go
// through the same function, so a term always matches itself.
//
// Splitting: every rune that is neither a letter nor a digit separates words, so snake_case, kebab-case, dotted and
// slashed names ("velocargo/driver-hos", "get_vehicle_location") fall apart into their words. A camelCase word
// ("CrashLoopBackOff") yields its parts and also the whole word, so both "crash loop" and "crashloopbackoff" find it.
//
// Stemming is Porter's steps 1 and 5 only (plurals, -ed, -ing, final y, final e and ll): it conflates "schedule",
// "schedules", "scheduled" and "scheduling" without the suffix stripping of steps 2–4, whose over-stemming
// ("university"/"universe", "general"/"generic") costs more on short catalog texts than it gains.

// maxTermLen bounds a term; longer runs (hashes, base64) are cut, so one pathological word cannot bloat the index.
const maxTermLen = 48

// analyze appends the terms of text to dst and returns it. keepStop keeps stopwords (names are indexed with them:
// "the-hub" should still match "the hub").
func analyze(dst []string, text string, keepStop bool) []string {
	eachTerm(text, keepStop, func(_ []byte, term string) { dst = append(dst, term) })
	return dst
}

// eachTerm calls fn with each term of text: the lower-cased word as written, and the term (stemmed).
func eachTerm(text string, keepStop bool, fn func(word []byte, term string)) {
	var word []rune
	flush := func() {
		if len(word) > 0 {
			eachWordTerm(word, keepStop, fn)
			word = word[:0]
		}
	}
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			word = append(word, r)
			continue
		}
		if r == '\'' || r == '\u2019' {
			continue // "driver's" → "drivers" → "driver"; "don't" → "dont" (a stopword)
		}
		flush()
	}
	flush()
}

// eachWordTerm yields the terms of one word: its camelCase parts when it has any, then the whole word.
func eachWordTerm(word []rune, keepStop bool, fn func(word []byte, term string)) {
	start, parts := 0, 0
	for i := 1; i < len(word); i++ {
		if isBoundary(word, i) {
			emitTerm(word[start:i], keepStop, fn)
			start = i
			parts++
		}
	}
	if parts > 0 {
		emitTerm(word[start:], keepStop, fn)
	}
	emitTerm(word, keepStop, fn)
}

// isBoundary reports whether a camelCase word starts a new part at i: lower→Upper ("crashLoop"), the last capital of
// an acronym before a lower-case letter ("HTTPServer" → "HTTP", "Server"); letter↔digit is not a boundary ("k8s",
// "s3", "v2" stay whole).
func isBoundary(w []rune, i int) bool {
	prev, cur := w[i-1], w[i]
	if unicode.IsLower(prev) && unicode.IsUpper(cur) {
		return true
	}
	return unicode.IsUpper(prev) && unicode.IsUpper(cur) && i+1 < len(w) && unicode.IsLower(w[i+1])
}

func emitTerm(word []rune, keepStop bool, fn func(word []byte, term string)) {
	if len(word) > maxTermLen {
		word = word[:maxTermLen]
	}
	var buf, sbuf [maxTermLen * utf8.UTFMax]byte
	b := buf[:0]
	for _, r := range word {
		b = utf8.AppendRune(b, unicode.ToLower(r))
	}
	if !keepStop && stopwords[string(b)] {
		return
	}
	st := stem(append(sbuf[:0], b...))
	if !keepStop && stopwords[string(st)] {
		return // "thes" stems to "the"
	}
	fn(b, string(st))
}

// stopwords are English function words and the fillers of spoken queries. They carry no topic, and at BM25's idf
// they would still let "the"/"my" decide between close documents (the failure noted in research/embeddings.md §3.3).
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{
		"a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at",
		"be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
		"can", "could", "did", "do", "does", "doing", "dont", "down", "during", "each", "else", "ever", "every",
		"few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
		"him", "himself", "his", "how", "i", "if", "im", "in", "into", "is", "it", "its", "itself", "just",
		"let", "lets", "may", "me", "might", "more", "most", "must", "my", "myself", "no", "nor", "not", "now",
		"of", "off", "on", "once", "only", "or", "other", "ought", "our", "ours", "ourselves", "out", "over", "own",
		"please", "same", "shall", "she", "should", "so", "some", "such", "than", "that", "the", "their",
		"theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too",
		"under", "until", "up", "us", "very", "was", "we", "were", "what", "when", "where", "which", "while",
		"who", "whom", "whose", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves",
		"want", "wants", "need", "needs", "something", "someone", "thing", "things", "also", "like", "get", "got",
	} {
		m[w] = true
	}
	return m
}()

// stem applies Porter's steps 1a, 1b, 1c, 5a and 5b to a lower-case word in place and returns it. Words of three bytes or
// fewer, and words with digits or non-ASCII letters, are returned unchanged.
func stem(w []byte) []byte {
	if len(w) <= 3 {
		return w
	}
	for _, c := range w {
		if c < 'a' || c > 'z' {
			return w
		}
	}
	// Step 1a: plurals.
	switch {
	case hasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case hasSuffix(w, "ies"):
		w = w[:len(w)-2]
	case hasSuffix(w, "ss"):
	case hasSuffix(w, "s"):
		w = w[:len(w)-1]
	}
	// Step 1b: -eed, -ed, -ing.
	fix := false
	switch {
	case hasSuffix(w, "eed"):
		if measure(w[:len(w)-3]) > 0 {
			w = w[:len(w)-1]
		}
	case hasSuffix(w, "ed") && hasVowel(w[:len(w)-2]):
		w, fix = w[:len(w)-2], true
	case hasSuffix(w, "ing") && hasVowel(w[:len(w)-3]):
		w, fix = w[:len(w)-3], true
	}
	if fix {
		switch {
		case hasSuffix(w, "at"), hasSuffix(w, "bl"), hasSuffix(w, "iz"):
			w = append(w, 'e')
		case doubleConsonant(w) && !hasSuffix(w, "l") && !hasSuffix(w, "s") && !hasSuffix(w, "z"):
			w = w[:len(w)-1]
		case measure(w) == 1 && cvc(w):
			w = append(w, 'e')
		}
	}
	// Step 1c: a final y after a vowel-bearing stem becomes i ("query", "queries" → "queri").
	if hasSuffix(w, "y") && hasVowel(w[:len(w)-1]) {
		w[len(w)-1] = 'i'
	}
	// Step 5a: a final e goes when the stem is long enough ("schedule", "schedules" and "scheduling" → "schedul"),
	// except after a short consonant-vowel-consonant stem ("hope", "file").
	if hasSuffix(w, "e") {
		if m := measure(w[:len(w)-1]); m > 1 || m == 1 && !cvc(w[:len(w)-1]) {
			w = w[:len(w)-1]
		}
	}
	// Step 5b: a final double l loses one when the stem is long ("controlling" → "control").
	if hasSuffix(w, "ll") && measure(w) > 1 {
		w = w[:len(w)-1]
	}
	return w
}

func hasSuffix(w []byte, s string) bool {
	return len(w) >= len(s) && string(w[len(w)-len(s):]) == s
}

// consonant is Porter's definition: a letter other than a, e, i, o, u, and other than y preceded by a consonant.
func consonant(w []byte, i int) bool {
	switch w[i] {
	case 'a', 'e', 'i', 'o', 'u':
		return false
	case 'y':
		return i == 0 || !consonant(w, i-1)
	}
	return true
}

// measure counts the vowel-consonant sequences of w ([C](VC)^m[V]).
func measure(w []byte) int {
	m, i, n := 0, 0, len(w)
	for i < n && consonant(w, i) {
		i++
	}
	for i < n {
		for i < n && !consonant(w, i) {
			i++
		}
		if i == n {
			break
		}
		for i < n && consonant(w, i) {
			i++
		}
		m++
	}
	return m
}

func hasVowel(w []byte) bool {
	for i := range w {
		if !consonant(w, i) {
			return true
		}
	}
	return false
}

func doubleConsonant(w []byte) bool {
	n := len(w)
	return n >= 2 && w[n-1] == w[n-2] && consonant(w, n-1)
}

// cvc: consonant-vowel-consonant at the end, the last not w, x or y ("hop" → "hope" after "hoping").
func cvc(w []byte) bool {
	n := len(w)
	if n < 3 || !consonant(w, n-3) || consonant(w, n-2) || !consonant(w, n-1) {
		return false
	}
	c := w[n-1]
	return c != 'w' && c != 'x' && c != 'y'
}
