package xds

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/mcpgw/mcpgw/xds/snapshot"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// Config is the xds component's configuration, parsed by cmd from flags and environment and checked once with
// Validate.
type Config struct {
	// Address is where Run listens for ADS (":18000"); Envoy's bootstrap cluster mcpgw_xds points here. Empty
	// when the caller listens itself and calls Serve.
	Address string
	// Envoy is what the fleet receives: listener port and address, the MCP filter switch, timeouts, the
	// ext_authz body limit, the gRPC access log cluster, the CA bundle and circuit breakers. The registry's
	// address is not here: mcpgw_registry is a static cluster of the Envoy bootstrap, which routes name only.
	Envoy translate.Options
	// Snapshot tunes rebuilding: the debounce quiet period and maximum delay, and the fleet limit.
	Snapshot snapshot.Config
}

// DefaultAddress is the ADS listen address when none is configured.
const DefaultAddress = ":18000"

// DefaultConfig returns the configuration mcpgw uses when the operator sets nothing.
func DefaultConfig() Config {
	return Config{Address: DefaultAddress, Envoy: translate.DefaultOptions(), Snapshot: snapshot.DefaultConfig()}
}

// ErrInvalidConfig wraps a bad ADS address; option and snapshot problems wrap their packages' errors.
var ErrInvalidConfig = errors.New("invalid xds config")

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	errs := []error{c.Envoy.Validate(), c.Snapshot.Validate()}
	if c.Address != "" { // empty: the caller listens and calls Serve
		errs = append(errs, checkAddress(c.Address, c.Envoy.ListenerPort))
	}
	return errors.Join(errs...)
}

func checkAddress(addr string, envoyPort uint32) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: address %q: %w", ErrInvalidConfig, addr, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("%w: address %q: bad port", ErrInvalidConfig, addr)
	}
	if n == uint64(envoyPort) && isLocal(addr) {
		return fmt.Errorf("%w: ADS port %d is also the Envoy listener port", ErrInvalidConfig, n)
	}
	return nil
}

// isLocal reports whether the ADS address binds every interface or the loopback, where it would collide with an
// Envoy on the same host.
func isLocal(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return host == "" || host == "localhost" || ip != nil && (ip.IsUnspecified() || ip.IsLoopback())
}
