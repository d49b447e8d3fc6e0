package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

type embedded struct {
	uri  string
	stop func()
}

// maxSocketPath is the longest Unix socket path that fits every platform's address (104 bytes on macOS and the BSDs,
// 108 on Linux), terminator included.
const maxSocketPath = 100

// startEmbedded runs FerretDB with its SQLite backend in this process, storing under dataDir/db. It listens on a
// Unix socket inside the data directory, so no other host or user can reach it (it has no authentication). When that
// path is too long for a socket address, the socket goes into a private temporary directory (mode 0700) instead;
// only when even that is too long does it fall back to a loopback port.
func startEmbedded(dataDir string, log *slog.Logger) (*embedded, error) {
	if dataDir == "" {
		return nil, errors.New("start embedded store: a data directory is required")
	}
	dbDir := filepath.Join(dataDir, "db")
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		return nil, fmt.Errorf("start embedded store: %w", err)
	}
	abs, err := filepath.Abs(dbDir)
	if err != nil {
		return nil, fmt.Errorf("start embedded store: %w", err)
	}
	unlock, err := lockDataDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("start embedded store: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			unlock()
		}
	}()
	lc := ferretdb.ListenerConfig{}
	sock := filepath.Join(abs, "mongod.sock")
	removeSockDir := func() {}
	if len(sock) >= maxSocketPath {
		if tmp, err := os.MkdirTemp("", "mcpgw-"); err == nil {
			if s := filepath.Join(tmp, "mongod.sock"); len(s) < maxSocketPath {
				sock, removeSockDir = s, func() { _ = os.RemoveAll(tmp) }
			} else {
				_ = os.RemoveAll(tmp)
			}
		}
	}
	defer func() {
		if !ok {
			removeSockDir()
		}
	}()
	if len(sock) < maxSocketPath {
		_ = os.Remove(sock) // left behind by a crash; the SQLite files hold the data
		lc.Unix = sock
	} else {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("start embedded store: %w", err)
		}
		lc.TCP = fmt.Sprintf("127.0.0.1:%d", port)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: lc,
		Handler:  "sqlite",
		// WAL with synchronous=NORMAL: a committed write survives a crash of the process (kill -9); only a
		// power loss may lose the last commits. FULL would fsync every write.
		SQLiteURL: "file:" + abs + "/?_pragma=synchronous(normal)",
		Logger:    slog.New(levelFloor{h: log.With("component", "ferretdb").Handler(), min: slog.LevelError}),
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded store: %w", err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(context.Background()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("embedded store stopped", "err", err)
		}
	}()
	if err := waitListening(lc); err != nil {
		cancel()
		<-done
		return nil, fmt.Errorf("start embedded store: %w", err)
	}
	ok = true
	return &embedded{uri: f.MongoDBURI(), stop: func() { cancel(); <-done; removeSockDir(); unlock() }}, nil
}

func waitListening(lc ferretdb.ListenerConfig) error {
	network, addr := "tcp", lc.TCP
	if lc.Unix != "" {
		network, addr = "unix", lc.Unix
	}
	var last error
	for range 200 {
		c, err := net.DialTimeout(network, addr, 100*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		last = err
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("embedded server did not listen on %s: %w", addr, last)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// levelFloor drops records below min: FerretDB logs every connection at info level and routine disconnects as
// warnings.
type levelFloor struct {
	h   slog.Handler
	min slog.Level
}

func (l levelFloor) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.h.Enabled(ctx, lv)
}
func (l levelFloor) Handle(ctx context.Context, r slog.Record) error { return l.h.Handle(ctx, r) }
func (l levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h: l.h.WithAttrs(a), min: l.min}
}
func (l levelFloor) WithGroup(n string) slog.Handler {
	return levelFloor{h: l.h.WithGroup(n), min: l.min}
}
