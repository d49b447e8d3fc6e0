// Package mcpgwproc runs the mcpgw binary for the load harnesses in test/load: start a subcommand on free loopback
// ports and wait until it is ready, mint development tokens, stop it, and read its CPU time and memory from /proc.
package mcpgwproc

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// readyWithin bounds the wait for /readyz.
const readyWithin = time.Minute

// Build compiles cmd/mcpgw into dir and returns the binary's path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "mcpgw")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/mcpgw/mcpgw/cmd/mcpgw").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build mcpgw: %w\n%s", err, out)
	}
	return bin, nil
}

// Process is a running mcpgw.
type Process struct {
	Cmd *exec.Cmd
	// Base is the registry's base URL, http://127.0.0.1:port.
	Base string
	// Ready is the time from the start of the process until /readyz answered 200.
	Ready time.Duration
	done  chan struct{}
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Start runs `bin sub --data-dir data --http-addr <free> --log-level warn args...` (sub is "serve" or
// "registry"; serve also gets free --xds-addr and --authz-addr unless args set them) and waits until /readyz
// answers 200. The process's stderr is this one's.
func Start(bin, sub, data string, args ...string) (*Process, error) {
	httpAddr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	argv := []string{sub, "--data-dir", data, "--http-addr", httpAddr, "--log-level", "warn"}
	if sub == "serve" {
		for _, flag := range []string{"--xds-addr", "--authz-addr"} {
			if hasFlag(args, flag) {
				continue
			}
			a, err := FreeAddr()
			if err != nil {
				return nil, err
			}
			argv = append(argv, flag, a)
		}
	}
	cmd := exec.Command(bin, append(argv, args...)...)
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &Process{Cmd: cmd, Base: "http://" + httpAddr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	for time.Since(t0) < readyWithin {
		select {
		case <-p.done:
			return nil, fmt.Errorf("mcpgw %s exited before it was ready: %v", sub, cmd.ProcessState)
		default:
		}
		if resp, err := http.Get(p.Base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.Ready = time.Since(t0)
				return p, nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.Stop()
	return nil, errors.New("mcpgw did not become ready within a minute")
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// Stop interrupts the process and waits for it to exit (killing it after 15 s).
func (p *Process) Stop() {
	_ = p.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// PID is the process id.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Token mints a development token with `bin token`.
func Token(bin, data, subject, groups string, ttl time.Duration) (string, error) {
	out, err := exec.Command(bin, "token", "--data-dir", data, "--subject", subject, "--groups", groups,
		"--ttl", ttl.String()).Output()
	if err != nil {
		return "", fmt.Errorf("mcpgw token: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// CPUMillis is a process's user plus system CPU time in milliseconds (from /proc; 0 elsewhere).
func CPUMillis(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) * 1000 / 100 // clock ticks of 1/100 s (USER_HZ on Linux)
}

// RSSKiB is a process's resident set size in KiB (from /proc; 0 elsewhere).
func RSSKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}
