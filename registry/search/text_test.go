package search

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAnalyze(t *testing.T) {
	// Invariant: text splits on every non-alphanumeric rune, camelCase words yield their parts and the whole word,
	// stopwords go (unless kept), and inflections of one word meet in one term.
	for _, c := range []struct {
		in   string
		keep bool
		want []string
	}{
		{"get_vehicle_location", false, []string{"vehicl", "location"}},
		{"velocargo/driver-hos", false, []string{"velocargo", "driver", "hos"}},
		{"CrashLoopBackOff", false, []string{"crash", "loop", "back", "crashloopbackoff"}},
		{"HTTPServer k8s", false, []string{"http", "server", "httpserver", "k8s"}},
		{"where is the truck now", false, []string{"truck"}},
		{"the-hub", true, []string{"the", "hub"}},
		{"Scheduling schedules scheduled", false, []string{"schedul", "schedul", "schedul"}},
		{"driver's queries", false, []string{"driver", "queri"}},
		{"", false, nil},
		{"thes hims", false, nil},
		{"Ünïcode Straße", false, []string{"ünïcode", "straße"}},
	} {
		got := analyze(nil, c.in, c.keep)
		if !slices.Equal(got, c.want) {
			t.Errorf("analyze(%q, %v) = %q, want %q", c.in, c.keep, got, c.want)
		}
	}
}

func TestStem(t *testing.T) {
	// Invariant: stem implements Porter's steps 1 and 5 (with the examples of Porter's paper for them), and leaves
	// short words and words with digits alone.
	for in, want := range map[string]string{
		"caresses": "caress", "ponies": "poni", "ties": "ti", "caress": "caress", "cats": "cat",
		"feed": "feed", "agreed": "agre", "agree": "agre", //nolint:misspell // stems are not words "plastered": "plaster", "bled": "bled", "motoring": "motor", "sing": "sing",
		"conflated": "conflat", "troubled": "troubl", "sized": "size", "hopping": "hop", "tanned": "tan",
		"falling": "fall", "hissing": "hiss", "fizzed": "fizz", "failing": "fail", "filing": "file", "hoping": "hope",
		"happy": "happi", "sky": "sky", "k8s": "k8s", "bus": "bus", "v2s": "v2s", "probate": "probat", "rate": "rate",
		"cease": "ceas", "controll": "control", //nolint:misspell // a step 1b output; stems are not words "roll": "roll", "schedule": "schedul", "scheduling": "schedul",
	} {
		if got := string(stem([]byte(in))); got != want {
			t.Errorf("stem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWithinOneEdit(t *testing.T) {
	// Invariant: true exactly for optimal-string-alignment distance ≤ 1.
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"warehouse", "warehouse", true}, {"warehose", "warehouse", true}, {"warehouse", "warehose", true},
		{"invntori", "inventori", true}, {"perscription", "prescription", true}, {"drivr", "driver", true},
		{"claim", "clam", true}, {"claim", "blaim", true}, {"claim", "cliam", true}, //nolint:misspell // typos on purpose
		{"clm", "claim", false}, {"abcd", "dcba", false}, {"abc", "abcde", false}, {"kestrel", "petrel", false},
	} {
		if got := withinOneEdit(c.a, c.b); got != c.want {
			t.Errorf("withinOneEdit(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func TestNormName(t *testing.T) {
	// Invariant: names and queries that differ only in case and separators normalise alike; the slash of a full
	// name is kept.
	for in, want := range map[string]string{
		"  SBAR-Handoff_Note ": "sbar handoff note", "sbar handoff note": "sbar handoff note",
		"velocargo/kestrel": "velocargo/kestrel", "Pharmacy  Formulary": "pharmacy formulary", "--": "",
	} {
		if got := normName(in); got != want {
			t.Errorf("normName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{"get_vehicle_location", "CrashLoopBackOff", "HTTPServer", "Straße", "a\xffb", "ÀÀÀÀ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Invariant: never panics; terms are non-empty, valid UTF-8 and at most maxTermLen runes, and stopwords
		// never survive.
		for _, term := range analyze(nil, s, false) {
			if term == "" || !utf8.ValidString(term) || utf8.RuneCountInString(term) > maxTermLen {
				t.Fatalf("bad term %q from %q", term, s)
			}
			if stopwords[term] {
				t.Fatalf("stopword %q survived in %q", term, s)
			}
		}
		if strings.TrimSpace(s) == "" && len(analyze(nil, s, true)) != 0 {
			t.Fatalf("terms from blank %q", s)
		}
	})
}

func TestExpand(t *testing.T) {
	// Invariant: a known term stands for itself; an unknown one of four letters or more for the terms one edit away
	// (at the fuzzy weight), else for the terms it is a prefix of (at the prefix weight, at most eight); shorter
	// unknown terms and terms nothing resembles stand for nothing.
	l := newLexicon()
	var fields [numFields][]string
	fields[fDesc] = analyze(nil, "warehouse inventory CrashLoopBackOff crashes hos prescription", false)
	l.add(0, &fields)
	term := func(id uint32) string { return l.terms[id] }
	for _, c := range []struct {
		q    string
		want []string
		w    float64
	}{
		{"warehous", []string{"warehous"}, 1},
		{"warehos", []string{"warehous"}, 0.7},
		{"perscription", []string{"prescription"}, 0.7},
		{"crashloop", []string{"crashloopbackoff"}, 0.6},
		{"hoz", nil, 0},
		{"zzzzzz", nil, 0},
	} {
		var got []string
		for _, e := range l.expand(c.q, 0.7, 0.6, nil) {
			got = append(got, term(e.id))
			if e.weight != c.w {
				t.Errorf("expand(%q): weight %v, want %v", c.q, e.weight, c.w)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("expand(%q) = %q, want %q", c.q, got, c.want)
		}
	}
}
