package audit

import "strings"

// MongoDB-compatible stores refuse field names that start with '$' or contain '.' (the embedded FerretDB store
// rejects the whole insert), yet tool arguments may use such keys ("$schema", "user.name"). One such record would
// make its batch fail on every retry. A NUL byte ("\u0000" is valid JSON) is worse: BSON field names are C strings,
// so the driver cannot even encode the batch. Either way one caller's request would erase the records that share its
// batch. So the Batcher stores argument keys percent-escaped: '%' as "%25", '.' as "%2E", NUL as "%00" and a leading
// '$' as "%24". The mapping is reversible (UnescapeKey) and leaves ordinary keys unchanged, so queries on them work
// as written.

// EscapeKey returns key in its stored form.
func EscapeKey(key string) string {
	if !needsEscape(key) {
		return key
	}
	var b strings.Builder
	b.Grow(len(key) + 4)
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '%':
			b.WriteString("%25")
		case c == '.':
			b.WriteString("%2E")
		case c == 0:
			b.WriteString("%00")
		case c == '$' && i == 0:
			b.WriteString("%24")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UnescapeKey returns the original key of a stored argument key; it undoes exactly what EscapeKey does.
func UnescapeKey(stored string) string {
	if !strings.Contains(stored, "%") {
		return stored
	}
	var b strings.Builder
	b.Grow(len(stored))
	for i := 0; i < len(stored); i++ {
		if stored[i] == '%' && i+3 <= len(stored) {
			switch stored[i+1 : i+3] {
			case "25":
				b.WriteByte('%')
				i += 2
				continue
			case "2E":
				b.WriteByte('.')
				i += 2
				continue
			case "24":
				b.WriteByte('$')
				i += 2
				continue
			case "00":
				b.WriteByte(0)
				i += 2
				continue
			}
		}
		b.WriteByte(stored[i])
	}
	return b.String()
}

func needsEscape(key string) bool {
	return strings.HasPrefix(key, "$") || strings.ContainsAny(key, "%.\x00")
}

// storableArguments returns args with every key, at any depth, in its stored form. Maps and arrays that need no
// change are shared, not copied; nothing reachable from args is modified.
func storableArguments(args map[string]any) map[string]any {
	out, _ := storableObject(args)
	return out
}

func storableObject(m map[string]any) (map[string]any, bool) {
	var out map[string]any // allocated on the first change
	for k, v := range m {
		nv, changed := storableValue(v)
		if !changed && !needsEscape(k) {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(m))
			for k2, v2 := range m {
				out[EscapeKey(k2)] = v2
			}
		}
		if changed {
			out[EscapeKey(k)] = nv
		}
	}
	if out == nil {
		return m, false
	}
	return out, true
}

func storableValue(v any) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		return storableObject(v)
	case []any:
		var out []any
		for i, e := range v {
			ne, changed := storableValue(e)
			if !changed {
				continue
			}
			if out == nil {
				out = append([]any(nil), v...)
			}
			out[i] = ne
		}
		if out == nil {
			return v, false
		}
		return out, true
	}
	return v, false
}
