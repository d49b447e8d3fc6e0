package mongo

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedServerUnderALongPathIsNotOnTCP(t *testing.T) {
	// Invariant: the embedded server never listens on a TCP port, where any local user could connect and change the
	// catalog without authentication: under a data directory whose socket path would be too long for a Unix socket
	// address, the socket goes into a private temporary directory instead, removed when the server stops.
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	e, err := startEmbedded(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.uri, "127.0.0.1") || !strings.Contains(e.uri, "mongod.sock") {
		e.stop()
		t.Fatalf("embedded server at %s", e.uri)
	}
	sock := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(e.uri, "mongodb://"), "/"), "%2F", "/")
	fi, err := os.Stat(filepath.Dir(sock))
	if err != nil || fi.Mode().Perm() != 0o700 {
		e.stop()
		t.Fatalf("socket directory %s: %v %v", filepath.Dir(sock), fi, err)
	}
	e.stop()
	if _, err := os.Stat(filepath.Dir(sock)); !os.IsNotExist(err) {
		t.Fatalf("socket directory left behind: %v", err)
	}
}
