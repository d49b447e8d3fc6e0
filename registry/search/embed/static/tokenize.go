package static

import (
	"unicode"
	"unicode/utf8"
)

// Tokenize splits text the way the model sees it: lower-cased, split on every
// rune that is neither a letter nor a digit, except that an apostrophe inside
// a word is kept ("don't", "user's"). Leading and trailing apostrophes are
// dropped. The trainer and Embed share this function, so a table is always
// trained on the tokens it is later asked about.
func Tokenize(text string) []string {
	var out []string
	it := tokenIter{buf: lowerInto(nil, text)}
	for tok, ok := it.next(); ok; tok, ok = it.next() {
		out = append(out, string(tok))
	}
	return out
}

// lowerInto appends the lower-cased text to dst. ASCII takes a byte loop;
// other runes go through unicode.ToLower, and a typographic apostrophe (U+2019)
// becomes ' so that "don’t" and "don't" are one token.
func lowerInto(dst []byte, text string) []byte {
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == '\u2019' { // typographic apostrophe: same role as '
			r = '\''
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += size
	}
	return dst
}

// tokenIter walks the tokens of an already lower-cased buffer without
// allocating. The slices it returns alias buf.
type tokenIter struct {
	buf []byte
	i   int
}

// next returns the next token, or false when the buffer is exhausted.
func (t *tokenIter) next() ([]byte, bool) {
	buf := t.buf
	for t.i < len(buf) {
		start := -1
		i := t.i
		for i < len(buf) {
			c := buf[i]
			if c < utf8.RuneSelf {
				if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
					if start < 0 {
						start = i
					}
				} else if c != '\'' || start < 0 {
					// An apostrophe only continues a word already started.
					break
				}
				i++
				continue
			}
			r, size := utf8.DecodeRune(buf[i:])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				break
			}
			if start < 0 {
				start = i
			}
			i += size
		}
		if start < 0 {
			// Skip one separator rune.
			_, size := utf8.DecodeRune(buf[i:])
			t.i = i + size
			continue
		}
		t.i = i
		tok := buf[start:i]
		for len(tok) > 0 && tok[len(tok)-1] == '\'' {
			tok = tok[:len(tok)-1]
		}
		return tok, true
	}
	return nil, false
}
