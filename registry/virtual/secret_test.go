package virtual_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/mcpgw/mcpgw/registry/virtual"
)

func TestSecretsResolve(t *testing.T) {
	// Invariant: env: and file: references resolve to the value (a file's one trailing line break dropped); every
	// other reference, an unset variable, an unreadable, empty or oversized file and a value that would split an
	// HTTP header fail with a *SecretError matching ErrSecret whose reason never contains the value.
	env := map[string]string{"TOKEN": "s3cret", "EMPTY": "", "SPLIT": "a\r\nX-Injected: 1"}
	files := map[string]string{"/run/secrets/token": "from-file\n", "/run/secrets/crlf": "crlf\r\n", "/run/secrets/empty": "\n",
		"/run/secrets/big": strings.Repeat("x", virtual.MaxSecretBytes+1)}
	s := virtual.Secrets{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, fs.ErrNotExist
		},
	}
	for _, c := range []struct {
		ref, want, reason string
	}{
		{ref: "env:TOKEN", want: "s3cret"},
		{ref: "file:/run/secrets/token", want: "from-file"},
		{ref: "file:/run/secrets/crlf", want: "crlf"},
		{ref: "env:MISSING", reason: "not set"},
		{ref: "env:EMPTY", reason: "not set"},
		{ref: "env:SPLIT", reason: "line break"},
		{ref: "file:/run/secrets/none", reason: "cannot be read"},
		{ref: "file:/run/secrets/empty", reason: "empty"},
		{ref: "file:/run/secrets/big", reason: "larger than"},
		{ref: "file:relative/path", reason: "absolute"},
		{ref: "vault:secret/data/x#token", reason: "vault: references are not supported"},
		{ref: "k8s:ns/name#key", reason: "k8s: references are not supported"},
		{ref: "aws-sm:arn:aws:secretsmanager:x", reason: "aws-sm: references are not supported"},
		{ref: "gcp-sm:projects/p/secrets/s", reason: "gcp-sm: references are not supported"},
		{ref: "s3cret", reason: "not a secret reference"},
		{ref: "env:", reason: "not a secret reference"},
		{ref: "ftp:x", reason: "unknown kind"},
		{ref: "s3cret:value", reason: "unknown kind"},
	} {
		got, err := s.Resolve(t.Context(), c.ref)
		if c.reason == "" {
			if err != nil || got != c.want {
				t.Errorf("%s: %q, %v; want %q", c.ref, got, err, c.want)
			}
			continue
		}
		var se *virtual.SecretError
		if !errors.As(err, &se) || !errors.Is(err, virtual.ErrSecret) || !strings.Contains(se.Reason, c.reason) || got != "" {
			t.Errorf("%s: %q, %v; want a SecretError saying %q", c.ref, got, err, c.reason)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "X-Injected") {
			t.Errorf("%s: the error reveals the value: %v", c.ref, err)
		}
	}
	if _, err := (virtual.Secrets{}).Resolve(t.Context(), "env:TOKEN"); !errors.Is(err, virtual.ErrSecret) {
		t.Errorf("without an environment: %v", err)
	}
}

func FuzzSecretsResolve(f *testing.F) {
	// Invariant: resolving any reference never panics, and every failure is a SecretError.
	for _, s := range []string{"env:A", "file:/x", "vault:a#b", ":", "env:", "file:", "\x00"} {
		f.Add(s)
	}
	s := virtual.Secrets{
		LookupEnv: func(k string) (string, bool) { return k, k != "" },
		ReadFile:  func(p string) ([]byte, error) { return []byte(p), nil },
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if _, err := s.Resolve(t.Context(), ref); err != nil && !errors.Is(err, virtual.ErrSecret) {
			t.Fatalf("%q: untyped error %v", ref, err)
		}
	})
}
