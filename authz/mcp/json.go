package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a strict, allocation-light JSON scanner. The gateway and the MCP server behind it must read the same
// document the same way, otherwise a body can say one thing to the policy and another to the server (a parser
// differential). encoding/json is too lenient for that: it lets the last of two duplicate keys win, matches struct
// fields case-insensitively, and silently replaces invalid UTF-8 and lone surrogates with U+FFFD. The scanner rejects
// all of those, bounds nesting depth, and hands back spans into the body so that the envelope is read without copying.

// Syntax errors the scanner reports. They become -32700 parse errors; the exact value is kept for tests and logs.
var (
	errSyntax        = errors.New("invalid JSON syntax")
	errDepth         = errors.New("JSON nesting too deep")
	errDuplicateKey  = errors.New("duplicate object key")
	errCaseVariant   = errors.New("member name differs from a JSON-RPC or MCP member only in case")
	errInvalidUTF8   = errors.New("invalid UTF-8 in string")
	errLoneSurrogate = errors.New("unpaired UTF-16 surrogate escape")
	errTrailingData  = errors.New("data after the JSON value")
)

// smallObject is the number of keys up to which duplicate detection scans linearly; larger objects switch to a map so
// a hostile object with many keys costs O(n) rather than O(n²).
const smallObject = 16

// keyRef locates one object key for duplicate detection: a span of the input when the key has no escapes, or a span
// of the scanner's arena when it had to be unescaped.
type keyRef struct {
	start, end int
	arena      bool
}

// scanner walks one JSON document. It is single-use and not safe for concurrent use.
type scanner struct {
	buf      []byte
	pos      int
	depth    int
	maxDepth int
	keys     []keyRef // keys of the objects currently open, innermost last
	arena    []byte   // unescaped keys
}

func newScanner(buf []byte, maxDepth int) scanner {
	return scanner{buf: buf, maxDepth: maxDepth}
}

// scratch is the reusable memory of a scanner; Parser pools it so that a parse allocates nothing for key tracking.
type scratch struct {
	keys  []keyRef
	arena []byte
}

// maxPooledScratch bounds what a pooled scratch keeps, so one huge body does not pin memory forever.
const maxPooledScratch = 1 << 12

func (s *scanner) borrow(sc *scratch) {
	s.keys, s.arena = sc.keys[:0], sc.arena[:0]
}

func (s *scanner) giveBack(sc *scratch) {
	sc.keys, sc.arena = nil, nil
	if cap(s.keys) <= maxPooledScratch {
		sc.keys = s.keys[:0]
	}
	if cap(s.arena) <= maxPooledScratch {
		sc.arena = s.arena[:0]
	}
}

// skipSpace returns the index of the first non-whitespace byte of b at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (s *scanner) skipSpace() { s.pos = skipSpace(s.buf, s.pos) }

// peek returns the next non-space byte without consuming it, or 0 at the end of input.
func (s *scanner) peek() byte {
	s.skipSpace()
	if s.pos >= len(s.buf) {
		return 0
	}
	return s.buf[s.pos]
}

// end verifies that only whitespace follows the document.
func (s *scanner) end() error {
	s.skipSpace()
	if s.pos != len(s.buf) {
		return errTrailingData
	}
	return nil
}

// value validates one value of any type and returns its span.
func (s *scanner) value() (start, end int, err error) {
	c := s.peek()
	start = s.pos
	switch {
	case c == '{':
		if err := s.skipObject(); err != nil {
			return 0, 0, err
		}
	case c == '[':
		if err := s.skipArray(); err != nil {
			return 0, 0, err
		}
	case c == '"':
		if _, err := s.str(); err != nil {
			return 0, 0, err
		}
	case c == '-' || (c >= '0' && c <= '9'):
		if err := s.number(); err != nil {
			return 0, 0, err
		}
	case c == 't':
		err = s.literal("true")
	case c == 'f':
		err = s.literal("false")
	case c == 'n':
		err = s.literal("null")
	default:
		return 0, 0, errSyntax
	}
	if err != nil {
		return 0, 0, err
	}
	return start, s.pos, nil
}

func (s *scanner) literal(lit string) error {
	if len(s.buf)-s.pos < len(lit) || string(s.buf[s.pos:s.pos+len(lit)]) != lit {
		return errSyntax
	}
	s.pos += len(lit)
	return nil
}

// number consumes a number per RFC 8259: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (s *scanner) number() error {
	b, i := s.buf, s.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return errSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return errSyntax
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return errSyntax
		}
	}
	s.pos = i
	return nil
}

// str consumes a string (the cursor is on its opening quote) and reports whether it contains escapes. It rejects
// control characters, invalid UTF-8, malformed escapes and unpaired surrogates.
func (s *scanner) str() (escaped bool, err error) {
	b := s.buf
	i := s.pos + 1
	for {
		if i >= len(b) {
			return false, errSyntax
		}
		c := b[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return escaped, nil
		case c == '\\':
			escaped = true
			n, err := escapeLen(b[i:])
			if err != nil {
				return false, err
			}
			i += n
		case c < 0x20:
			return false, errSyntax
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return false, errInvalidUTF8
			}
			i += size
		}
	}
}

// escapeLen validates the escape sequence at the start of b (b[0] is the backslash) and returns its length. A high
// surrogate \uD800-\uDBFF must be followed by a low surrogate escape; both are consumed together.
func escapeLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, errSyntax
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		r, ok := hex4(b[2:])
		if !ok {
			return 0, errSyntax
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return 0, errLoneSurrogate
		case r >= 0xD800 && r <= 0xDBFF:
			if len(b) < 12 || b[6] != '\\' || b[7] != 'u' {
				return 0, errLoneSurrogate
			}
			lo, ok := hex4(b[8:])
			if !ok {
				return 0, errSyntax
			}
			if lo < 0xDC00 || lo > 0xDFFF {
				return 0, errLoneSurrogate
			}
			return 12, nil
		}
		return 6, nil
	default:
		return 0, errSyntax
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// appendUnescaped appends the decoded content of a validated string literal (quotes included in raw) to dst.
func appendUnescaped(dst, raw []byte) []byte {
	b := raw[1 : len(raw)-1]
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			j := i + 1
			for j < len(b) && b[j] != '\\' {
				j++
			}
			dst = append(dst, b[i:j]...)
			i = j
			continue
		}
		switch b[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(b[i+2:])
			if r >= 0xD800 && r <= 0xDBFF {
				lo, _ := hex4(b[i+8:])
				dst = utf8.AppendRune(dst, utf16.DecodeRune(r, lo))
				i += 12
				continue
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, b[i+1])
		}
		i += 2
	}
	return dst
}

// stringValue decodes a validated string literal span into a Go string.
func stringValue(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw[1 : len(raw)-1])
	}
	return string(appendUnescaped(make([]byte, 0, len(raw)), raw))
}

// enterObject consumes '{' and opens a scope for duplicate-key detection. It returns the mark to pass to member.
func (s *scanner) enterObject() (mark int, err error) {
	if s.peek() != '{' {
		return 0, errSyntax
	}
	s.depth++
	if s.depth > s.maxDepth {
		return 0, errDepth
	}
	s.pos++
	return len(s.keys), nil
}

// member advances to the next member of the object opened at mark. It returns the decoded key, with the cursor on the
// member's value, or done=true after consuming the closing '}'. The key slice is valid until the next call.
func (s *scanner) member(mark int, set *map[string]struct{}) (key []byte, done bool, err error) {
	c := s.peek()
	n := len(s.keys) - mark
	if *set != nil {
		n = len(*set)
	}
	if c == '}' {
		s.pos++
		s.depth--
		s.keys = s.keys[:mark]
		return nil, true, nil
	}
	if n > 0 {
		if c != ',' {
			return nil, false, errSyntax
		}
		s.pos++
		c = s.peek()
	}
	if c != '"' {
		return nil, false, errSyntax
	}
	start := s.pos
	escaped, err := s.str()
	if err != nil {
		return nil, false, err
	}
	ref := keyRef{start: start + 1, end: s.pos - 1}
	if escaped {
		a := len(s.arena)
		s.arena = appendUnescaped(s.arena, s.buf[start:s.pos])
		ref = keyRef{start: a, end: len(s.arena), arena: true}
	}
	key = s.keyBytes(ref)
	if err := s.remember(mark, set, ref, key); err != nil {
		return nil, false, err
	}
	if s.peek() != ':' {
		return nil, false, errSyntax
	}
	s.pos++
	s.skipSpace()
	return key, false, nil
}

func (s *scanner) keyBytes(r keyRef) []byte {
	if r.arena {
		return s.arena[r.start:r.end]
	}
	return s.buf[r.start:r.end]
}

// foldKey maps a key to a canonical form under Unicode simple case folding (each rune becomes the least rune of its
// folding orbit), so that two keys have the same form exactly when bytes.EqualFold says they are equal.
func foldKey(key []byte) string {
	b := make([]byte, 0, len(key))
	for _, r := range string(key) {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b = utf8.AppendRune(b, least)
	}
	return string(b)
}

// caseVariant reports whether key differs from one of names only in case (under Unicode simple folding). A reader
// that matches names case-insensitively, as encoding/json does, would take such a key for the member itself.
func caseVariant(key []byte, names ...string) bool {
	for _, n := range names {
		if string(key) != n && bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}

// remember records a key of the object at mark and fails on a duplicate. Keys that are equal under Unicode simple
// case folding are duplicates too: encoding/json, which many MCP servers decode with, matches member names that way
// and lets the last match win, so the gateway and the server would read different values. Small objects compare linearly; from
// smallObject keys on, the object's keys move to a map.
func (s *scanner) remember(mark int, set *map[string]struct{}, ref keyRef, key []byte) error {
	if *set != nil {
		folded := foldKey(key)
		if _, dup := (*set)[folded]; dup {
			return errDuplicateKey
		}
		(*set)[folded] = struct{}{}
		return nil
	}
	for _, k := range s.keys[mark:] {
		if bytes.EqualFold(s.keyBytes(k), key) {
			return errDuplicateKey
		}
	}
	if len(s.keys)-mark < smallObject {
		s.keys = append(s.keys, ref)
		return nil
	}
	m := make(map[string]struct{}, 2*smallObject)
	for _, k := range s.keys[mark:] {
		m[foldKey(s.keyBytes(k))] = struct{}{}
	}
	m[foldKey(key)] = struct{}{}
	*set = m
	s.keys = s.keys[:mark]
	return nil
}

// members walks the object at the cursor, calling visit with each decoded key; visit must consume the value.
func (s *scanner) members(visit func(key []byte) error) error {
	mark, err := s.enterObject()
	if err != nil {
		return err
	}
	var set map[string]struct{}
	for {
		key, done, err := s.member(mark, &set)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if err := visit(key); err != nil {
			return err
		}
	}
}

func (s *scanner) skipObject() error {
	mark, err := s.enterObject()
	if err != nil {
		return err
	}
	var set map[string]struct{}
	for {
		_, done, err := s.member(mark, &set)
		if err != nil || done {
			return err
		}
		if _, _, err := s.value(); err != nil {
			return err
		}
	}
}

func (s *scanner) skipArray() error {
	s.depth++
	if s.depth > s.maxDepth {
		return errDepth
	}
	s.pos++ // '['
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if _, _, err := s.value(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

// validateJSON reports whether data is one JSON value that this package accepts: RFC 8259 syntax, no duplicate object
// keys, valid UTF-8, no unpaired surrogate escapes, and nesting no deeper than maxDepth.
func validateJSON(data []byte, maxDepth int) error {
	s := newScanner(data, maxDepth)
	if _, _, err := s.value(); err != nil {
		return err
	}
	return s.end()
}

// decodeValue converts a span that the scanner has already validated into the Go values encoding/json produces with
// UseNumber: map[string]any, []any, string, json.Number, bool and nil.
func decodeValue(b []byte) any {
	d := decoder{buf: b}
	return d.value()
}

type decoder struct {
	buf []byte
	pos int
}

func (d *decoder) skipSpace() { d.pos = skipSpace(d.buf, d.pos) }

func (d *decoder) value() any {
	d.skipSpace()
	switch c := d.buf[d.pos]; {
	case c == '{':
		d.pos++
		m := make(map[string]any)
		for {
			d.skipSpace()
			switch d.buf[d.pos] {
			case '}':
				d.pos++
				return m
			case ',':
				d.pos++
				d.skipSpace()
			}
			k := d.str()
			d.skipSpace()
			d.pos++ // ':'
			m[k] = d.value()
		}
	case c == '[':
		d.pos++
		a := make([]any, 0, 4)
		for {
			d.skipSpace()
			switch d.buf[d.pos] {
			case ']':
				d.pos++
				return a
			case ',':
				d.pos++
			}
			a = append(a, d.value())
		}
	case c == '"':
		return d.str()
	case c == 't':
		d.pos += 4
		return true
	case c == 'f':
		d.pos += 5
		return false
	case c == 'n':
		d.pos += 4
		return nil
	default:
		start := d.pos
		for d.pos < len(d.buf) {
			switch d.buf[d.pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return json.Number(d.buf[start:d.pos])
			}
			d.pos++
		}
		return json.Number(d.buf[start:d.pos])
	}
}

func (d *decoder) str() string {
	start := d.pos
	escaped := false
	i := d.pos + 1
	for d.buf[i] != '"' {
		if d.buf[i] == '\\' {
			escaped = true
			i++
		}
		i++
	}
	d.pos = i + 1
	return stringValue(d.buf[start:d.pos], escaped)
}
