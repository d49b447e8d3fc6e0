package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
)

// readLines returns the lines of a file without their newlines.
func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lines: %w", err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}

// writeLines writes one line per element.
func writeLines(path string, lines []string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write lines: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write lines: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write lines: %w", err)
	}
	return nil
}

// readVectors reads a teacher output: n × dim little-endian float32.
func readVectors(path string, n, dim int) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read vectors: %w", err)
	}
	if len(b) != n*dim*4 {
		return nil, fmt.Errorf("read vectors: %s has %d bytes, want %d (%d × %d float32)", path, len(b), n*dim*4, n, dim)
	}
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(v[i])) || math.IsInf(float64(v[i]), 0) {
			return nil, fmt.Errorf("read vectors: %s: value %d is %v", path, i, v[i])
		}
	}
	return v, nil
}

// splitList splits a comma-separated flag value.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
