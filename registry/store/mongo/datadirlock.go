package mongo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ErrDataDirInUse reports a data directory whose embedded store another process runs.
var ErrDataDirInUse = errors.New("the data directory is in use by another process")

// lockDataDir takes the data directory for this process: an exclusive lock on dataDir/mcpgw.lock, which holds the
// owner's pid for the message a second process gets. The embedded store relies on being the only process on its
// files (writes are made atomic by in-process locks, and a second server would take over the first one's socket),
// so a second mcpgw on the same directory must not start. The lock goes with the process, even after kill -9.
func lockDataDir(dataDir string) (unlock func(), err error) {
	path := filepath.Join(dataDir, "mcpgw.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := lockFile(f); err != nil {
		owner := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(string(bytes.TrimSpace(b))); perr == nil {
				owner = "process " + strconv.Itoa(pid)
			}
		}
		_ = f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%w: %s is held by %s; run one mcpgw per --data-dir, or share a MongoDB server "+
				"(--mongodb-uri) between replicas", ErrDataDirInUse, dataDir, owner)
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dataDir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { _ = f.Close() }, nil // closing the file releases the lock
}
