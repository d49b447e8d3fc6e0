package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Action is what a redaction rule does to a matching argument.
type Action string

const (
	// ActionRemove drops the key and its value.
	ActionRemove Action = "remove"
	// ActionHash replaces the value with HMAC-SHA256 under the configured key, so equal values stay correlatable
	// across records without being readable (or guessable by hashing candidates without the key).
	ActionHash Action = "hash"
)

// HashPrefix starts every hashed value: "hmac-sha256:" and 64 hex digits.
const HashPrefix = "hmac-sha256:"

// MinHashKeyBytes is the shortest HashKey accepted.
const MinHashKeyBytes = 16

// truncatedSuffix ends a string cut at RedactConfig.MaxStringBytes.
const truncatedSuffix = "…[truncated]"

// maxRedactDepth bounds recursion; authz/mcp already limits argument nesting well below it.
const maxRedactDepth = 128

// Rule matches argument keys, at any depth, by exactly one of Key or Regex.
type Rule struct {
	// Key is a glob over a key name, matched case-insensitively against the whole name: '*' matches any run of
	// characters, '?' exactly one; everything else is literal. "*token*" matches "access_token" and "X-Token".
	// Case-insensitive means Unicode simple case folding, as strings.EqualFold and encoding/json use it: "password"
	// also matches "PAſſWORD" (U+017F), which a Go server decoding the arguments into a struct reads as Password.
	Key string `json:"key,omitempty" yaml:"key,omitempty"`
	// Regex is a Go regular expression (RE2) matched against the key name, unanchored and case-sensitive unless
	// it says (?i).
	Regex  string `json:"regex,omitempty" yaml:"regex,omitempty"`
	Action Action `json:"action" yaml:"action"`
}

// RedactConfig configures a Redactor.
type RedactConfig struct {
	// Rules are tried in order for every key; the first that matches decides.
	Rules []Rule `json:"rules,omitempty" yaml:"rules,omitempty"`
	// HashKey keys the HMAC of hash rules (at least MinHashKeyBytes). Keep it secret and stable: values hashed under
	// different keys no longer correlate.
	HashKey []byte `json:"-" yaml:"-"`
	// MaxStringBytes cuts longer string values (at a UTF-8 boundary, marked with a suffix); 0 keeps them whole.
	MaxStringBytes int `json:"max_string_bytes,omitempty" yaml:"max_string_bytes,omitempty"`
}

// Validate checks the configuration once, at start, naming every problem.
func (c RedactConfig) Validate() error {
	var errs []error
	hashes := false
	for i, r := range c.Rules {
		switch {
		case r.Key == "" && r.Regex == "":
			errs = append(errs, fmt.Errorf("rule %d: needs a key glob or a regex", i))
		case r.Key != "" && r.Regex != "":
			errs = append(errs, fmt.Errorf("rule %d: has both a key glob and a regex", i))
		case r.Regex != "":
			if _, err := regexp.Compile(r.Regex); err != nil {
				errs = append(errs, fmt.Errorf("rule %d: %w", i, err))
			}
		}
		switch r.Action {
		case ActionRemove:
		case ActionHash:
			hashes = true
		default:
			errs = append(errs, fmt.Errorf("rule %d: action %q is neither %q nor %q", i, r.Action, ActionRemove, ActionHash))
		}
	}
	if hashes && len(c.HashKey) < MinHashKeyBytes {
		errs = append(errs, fmt.Errorf("hash rules need a hash key of at least %d bytes", MinHashKeyBytes))
	}
	if c.MaxStringBytes < 0 {
		errs = append(errs, fmt.Errorf("max string bytes %d is negative", c.MaxStringBytes))
	}
	if c.MaxStringBytes > 0 && c.MaxStringBytes < len(truncatedSuffix) {
		errs = append(errs, fmt.Errorf("max string bytes %d is shorter than the truncation marker", c.MaxStringBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validate audit redaction: %w", err)
	}
	return nil
}

type compiledRule struct {
	glob   string         // case-folded key glob (see fold), or "" for a regex rule
	re     *regexp.Regexp // regex rule
	action Action
}

// Redactor removes or hashes sensitive arguments before they are stored. It is immutable and safe for concurrent use.
type Redactor struct {
	rules     []compiledRule
	key       []byte
	maxString int
}

// NewRedactor validates cfg and compiles its rules.
func NewRedactor(cfg RedactConfig) (*Redactor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Redactor{key: bytes.Clone(cfg.HashKey), maxString: cfg.MaxStringBytes}
	for _, rule := range cfg.Rules {
		if rule.Key != "" {
			r.rules = append(r.rules, compiledRule{glob: fold(rule.Key), action: rule.Action})
			continue
		}
		r.rules = append(r.rules, compiledRule{re: regexp.MustCompile(rule.Regex), action: rule.Action})
	}
	return r, nil
}

func (r *Redactor) match(key string) (Action, bool) {
	folded, done := "", false
	for _, rule := range r.rules {
		if rule.re != nil {
			if rule.re.MatchString(key) {
				return rule.action, true
			}
			continue
		}
		if !done {
			folded, done = fold(key), true
		}
		if globMatch(rule.glob, folded) {
			return rule.action, true
		}
	}
	return "", false
}

// fold maps every rune of s to the smallest rune of its simple case-folding orbit (unicode.SimpleFold), so two
// strings are equal under strings.EqualFold exactly when their folds are equal. strings.ToLower is not enough:
// U+017F (ſ) is already lower case, yet folds with 's' and 'S'. ASCII letters fold to upper case.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// globMatch reports whether name matches pattern, where '*' matches any run of runes and '?' exactly one. It is the
// classic iterative matcher: on a mismatch it backtracks to the last '*' only, so it runs in O(len(pattern)·len(name)).
func globMatch(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				star, mark = p, n
				p++
				continue
			case '?':
				_, size := utf8.DecodeRuneInString(name[n:])
				p, n = p+1, n+size
				continue
			default:
				if c == name[n] {
					p, n = p+1, n+1
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		_, size := utf8.DecodeRuneInString(name[mark:])
		mark += size
		p, n = star+1, mark
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Redact returns a redacted copy of args; args itself is never modified. Rules apply to keys of nested objects too,
// and to objects inside arrays; a matching key's whole value (a subtree included) is removed or hashed. Scalars are
// kept as they are; containers of other types than map[string]any and []any (map[string]string, structs, ...) are
// first normalised through JSON so that keys inside them cannot escape the rules.
func (r *Redactor) Redact(args map[string]any) map[string]any {
	if args == nil {
		return nil
	}
	return r.object(args, 0)
}

func (r *Redactor) object(m map[string]any, depth int) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		action, ok := r.match(k)
		switch {
		case !ok:
			out[k] = r.value(v, depth+1)
		case action == ActionHash:
			out[k] = r.Hash(v)
		}
	}
	return out
}

func (r *Redactor) value(v any, depth int) any {
	if depth > maxRedactDepth {
		return "[too deep]"
	}
	switch v := v.(type) {
	case nil, bool, json.Number, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return v
	case string:
		return r.truncate(v)
	case map[string]any:
		return r.object(v, depth)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = r.value(e, depth+1)
		}
		return out
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprintf("[unrepresentable %T]", v)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var norm any
		if err := d.Decode(&norm); err != nil {
			return fmt.Sprintf("[unrepresentable %T]", v)
		}
		switch norm.(type) {
		case map[string]any, []any:
			return r.value(norm, depth)
		}
		return norm
	}
}

func (r *Redactor) truncate(s string) string {
	if r.maxString == 0 || len(s) <= r.maxString {
		return s
	}
	cut := r.maxString - len(truncatedSuffix)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedSuffix
}

// Hash returns HashPrefix and the hex HMAC-SHA256 of v's JSON encoding (map keys sorted, so equal values hash
// equally whatever their order). A Redactor without a hash key hashes with an empty key; NewRedactor refuses hash
// rules without one.
func (r *Redactor) Hash(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		b = fmt.Appendf(nil, "%T:%v", v, v)
	}
	mac := hmac.New(sha256.New, r.key)
	mac.Write(b)
	return HashPrefix + hex.EncodeToString(mac.Sum(nil))
}
