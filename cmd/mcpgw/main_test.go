package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	// Invariant: -h of every command prints its usage to stdout and exits 0; a mistake in the command line exits 2
	// with the usage on stderr; a bad value exits 1; nothing here starts a server. Exit statuses are what
	// docs/operations.md promises scripts.
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings
		stderr     []string
		noStdout   bool
		noStderr   bool
		errMessage string
	}{
		{name: "serve -h", args: []string{"serve", "-h"}, code: 0,
			stdout: []string{"usage: mcpgw serve [flags]", "MCPGW_<FLAG>", "-data-dir string", "-admin-addr string"}, noStderr: true},
		{name: "registry --help", args: []string{"registry", "--help"}, code: 0,
			stdout: []string{"usage: mcpgw registry [flags]", "-http-addr string"}, noStderr: true},
		{name: "token -h", args: []string{"token", "-h"}, code: 0,
			stdout: []string{"usage: mcpgw token [flags]", "-subject string", "-ttl duration"}, noStderr: true},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"usage: mcpgw <command>"}, noStderr: true},
		{name: "unknown flag", args: []string{"serve", "--bogus"}, code: 2, noStdout: true,
			stderr: []string{"usage: mcpgw serve [flags]"}, errMessage: "serve: flag provided but not defined: -bogus"},
		{name: "flag without value", args: []string{"token", "--data-dir"}, code: 2, noStdout: true,
			stderr: []string{"usage: mcpgw token [flags]"}, errMessage: "token: flag needs an argument: -data-dir"},
		{name: "stray argument", args: []string{"xds", "extra"}, code: 2, noStdout: true,
			errMessage: `xds: unexpected argument "extra" (mcpgw xds takes only flags)`},
		{name: "unknown command", args: []string{"frob"}, code: 2, noStdout: true,
			stderr: []string{"usage: mcpgw <command>"}, errMessage: `unknown command "frob"`},
		{name: "no command", args: nil, code: 2, noStdout: true, errMessage: "a command is required"},
		{name: "bad value", args: []string{"serve", "--data-dir", dir, "--log-level", "loud"}, code: 1, noStdout: true,
			noStderr: true, errMessage: `--log-level "loud" must be debug, info, warn or error`},
		{name: "missing policy directory", args: []string{"serve", "--data-dir", dir, "--policy-dir", dir + "/nope"}, code: 1,
			noStdout: true, noStderr: true, errMessage: `--policy-dir "` + dir + `/nope" is not a readable directory`},
		{name: "bad denied upstream range", args: []string{"serve", "--data-dir", dir, "--deny-upstreams", "169.254.0.0/16,10.0.0.0/33"},
			code: 1, noStdout: true, noStderr: true,
			errMessage: `--deny-upstreams: denied upstream range "10.0.0.0/33": not a CIDR prefix or an IP address`},
		{name: "token without subject", args: []string{"token", "--data-dir", dir}, code: 1, noStdout: true,
			noStderr: true, errMessage: "--subject (or --client) is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(tc.args, &stdout, &stderr)
			if got := exitCode(err); got != tc.code {
				t.Errorf("exit code %d, want %d (err %v)", got, tc.code, err)
			}
			if tc.errMessage != "" && (err == nil || err.Error() != tc.errMessage) {
				t.Errorf("error %v, want %q", err, tc.errMessage)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			if tc.noStdout && stdout.Len() > 0 {
				t.Errorf("stdout: %s", stdout.String())
			}
			if tc.noStderr && stderr.Len() > 0 {
				t.Errorf("stderr: %s", stderr.String())
			}
		})
	}
}

func TestTokenWarnsAboutANewKey(t *testing.T) {
	// Invariant: stdout carries only the token, so $(mcpgw token ...) captures it; when the data directory held no
	// key (usually the wrong directory), stderr says a new key was made that the running mcpgw will not trust.
	dir := t.TempDir()
	for i, wantWarning := range []bool{true, false} {
		var stdout, stderr bytes.Buffer
		if err := run([]string{"token", "--data-dir", dir, "--subject", "alice"}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		if tok := stdout.String(); strings.Count(tok, "\n") != 1 || strings.Count(tok, ".") != 2 {
			t.Fatalf("run %d: stdout is not one token line: %q", i, tok)
		}
		warned := strings.Contains(stderr.String(), "held no development issuer key; a new one was created") &&
			strings.Contains(stderr.String(), "--data-dir "+dir)
		if warned != wantWarning || !wantWarning && stderr.Len() > 0 {
			t.Fatalf("run %d: stderr %q, want a warning: %v", i, stderr.String(), wantWarning)
		}
	}
}
