package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// ErrMalformed means a body is not well-formed JSON (as opposed to well-formed JSON that breaks a rule).
var ErrMalformed = errors.New("malformed JSON")

// Decode parses a client's JSON document strictly into v: unknown fields, wrong types and trailing data are
// errors naming the field (ValidationError), broken JSON is ErrMalformed.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: unexpected data after the JSON document", ErrMalformed)
	}
	return nil
}

// DecodeObject decodes a client's document into a new object of kind k.
func DecodeObject(k Kind, data []byte) (Object, error) {
	obj := New(k)
	if obj == nil {
		return nil, fmt.Errorf("decode: unknown kind %q", k)
	}
	if err := Decode(data, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

func decodeError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %s", ErrMalformed, strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &typ):
		field := jsonPath(typ.Field)
		if p := pathAt(data, typ.Offset); p != "" && arrayIndex.ReplaceAllString(p, "") == field {
			field = p // the same path, with the array indexes encoding/json leaves out
		}
		if field == "" {
			field = "body"
		}
		return Invalid(field, "must be %s, not %s", jsonType(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(name, "is not a known field")
	}
	return fmt.Errorf("%w: %s", ErrMalformed, strings.TrimPrefix(err.Error(), "json: "))
}

// jsonPath turns encoding/json's field path into the client's: the path names embedded structs by their Go type
// ("Governance.tags"), which the JSON document does not have. JSON names in this package start in lower case, so a
// segment that starts in upper case is an embedded struct's.
func jsonPath(field string) string {
	segs := strings.Split(field, ".")
	out := segs[:0]
	for _, s := range segs {
		if s != "" && !(s[0] >= 'A' && s[0] <= 'Z') {
			out = append(out, s)
		}
	}
	return strings.Join(out, ".")
}

// pathAt returns the path ("versions[1].tools") of the innermost value of the JSON document data that is being
// read at byte offset, as encoding/json reports a type error's position: the value that ends there, or the object or
// array that starts just before it. It returns "" when the document cannot be walked that far.
func pathAt(data []byte, offset int64) string {
	type frame struct {
		array bool
		index int
		key   string
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			switch {
			case f.array:
				fmt.Fprintf(&b, "[%d]", f.index)
			default:
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			}
		}
		return b.String()
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	expectKey := false
	for {
		if n := len(stack); n > 0 && !expectKey && stack[n-1].array {
			stack[n-1].index++
		}
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if dec.InputOffset() >= offset {
					return path()
				}
				stack = append(stack, frame{array: t == '[', index: -1})
				expectKey = t == '{'
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if expectKey {
				stack[len(stack)-1].key = t
				expectKey = false
				continue
			}
		}
		if dec.InputOffset() >= offset {
			return path()
		}
		// A value was read: an object expects its next key, an array its next element.
		expectKey = len(stack) > 0 && !stack[len(stack)-1].array
	}
}

// arrayIndex is an array index in a path ("[2]"), which encoding/json's field paths leave out.
var arrayIndex = regexp.MustCompile(`\[\d+\]`)

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return "of another type"
}

// MergePatch applies an RFC 7396 JSON merge patch to doc.
func MergePatch(doc, patch []byte) ([]byte, error) {
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, decodeError(patch, err)
	}
	var d any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("merge patch: stored document: %w", err)
	}
	return json.Marshal(mergeValue(d, p))
}

func mergeValue(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergeValue(tm[k], v)
	}
	return tm
}
