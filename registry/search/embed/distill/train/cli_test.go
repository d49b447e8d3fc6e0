package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mcpgw/mcpgw/registry/search/embed/static"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeVectors writes n deterministic 512-d teacher-like vectors.
func writeVectors(t *testing.T, path string, n int, seed float64) {
	t.Helper()
	var b []byte
	for i := range n * teacherDim {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(math.Sin(seed+float64(i)*0.37))))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPipelineOnTinyInputs(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	writeFile(t, p("dumpavail.txt"), "Package: a\nDescription: send a message to the team\n\nPackage: b\nDescription: GNU C compiler\n\nPackage: c\nDescription: lib\n")
	os.Mkdir(p("text"), 0o755)
	writeFile(t, p("text/a.txt"), "# comment\nsend the kubernetes message\nkubernetes pods and kubernetes nodes\n")
	writeFile(t, p("text/b.frames"), "{send|post} a kubernetes {message|note}\n")
	writeFile(t, p("base.txt"), "send\nmessage\nteam\nthe\na\nto\n")
	var log bytes.Buffer
	steps := [][]string{
		{"corpus", "-dumpavail", p("dumpavail.txt"), "-text", p("text"), "-per-frame", "2", "-out-debian", p("deb.txt"), "-out-text", p("txt.txt")},
		{"extra", "-base", p("base.txt"), "-sentences", p("deb.txt") + "," + p("txt.txt"), "-min-freq", "3", "-out", p("extra.txt")},
	}
	for _, args := range steps {
		if err := run(args, &log, &log); err != nil {
			t.Fatalf("%v: %v\n%s", args[0], err, log.String())
		}
	}
	deb, _ := readLines(p("deb.txt"))
	slices.Sort(deb)
	// Invariant: descriptions under 3 tokens are dropped, text is lower-cased,
	// comments are skipped, frames expand, and only corpus tokens missing from
	// the base list with frequency >= 3 become extra words.
	if want := []string{"gnu c compiler", "send a message to the team"}; !slices.Equal(deb, want) {
		t.Errorf("debian sentences %q, want %q", deb, want)
	}
	txt, _ := readLines(p("txt.txt"))
	if len(txt) != 4 || slices.Contains(txt, "# comment") {
		t.Errorf("text sentences %q", txt)
	}
	extra, _ := readLines(p("extra.txt"))
	if !slices.Equal(extra, []string{"kubernetes"}) {
		t.Errorf("extra words %q, want [kubernetes]", extra)
	}

	base, _ := readLines(p("base.txt"))
	writeVectors(t, p("base.f32"), len(base), 1)
	writeVectors(t, p("extra.f32"), len(extra), 2)
	writeVectors(t, p("deb.f32"), len(deb), 3)
	writeVectors(t, p("txt.f32"), len(txt), 4)
	fit := []string{"fit", "-words", p("base.txt") + "," + p("extra.txt"), "-wordvecs", p("base.f32") + "," + p("extra.f32"),
		"-sentences", p("deb.txt") + "," + p("txt.txt"), "-targets", p("deb.f32") + "," + p("txt.f32"),
		"-held-out-every", "2", "-mix", "0.5", "-out", p("model.semb")}
	if err := run(fit, &log, &log); err != nil {
		t.Fatalf("fit: %v\n%s", err, log.String())
	}
	b, err := os.ReadFile(p("model.semb"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := static.Parse(b)
	if err != nil {
		t.Fatalf("the written table does not parse: %v", err)
	}
	if m.Dim() != teacherDim || m.Len() != len(base)+len(extra) {
		t.Errorf("table %d × %d, want %d × %d", m.Len(), m.Dim(), len(base)+len(extra), teacherDim)
	}
	if _, known := m.AppendEmbedding(nil, "Kubernetes messages"); known != 2 {
		t.Errorf("known tokens = %d, want 2", known)
	}
	// A teacher output of the wrong length is refused.
	writeVectors(t, p("txt.f32"), len(txt)+1, 4)
	if err := run(fit, &log, &log); err == nil {
		t.Error("fit accepted targets of the wrong length")
	}
	if err := run([]string{"nope"}, &log, &log); err == nil {
		t.Error("unknown command accepted")
	}
}
