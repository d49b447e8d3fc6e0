package extauthz

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mcpgw/mcpgw/authz/mcp"
	"github.com/mcpgw/mcpgw/authz/resource"
)

// ErrInvalidConfig is matched by every error Config.Validate and New return for a bad configuration.
var ErrInvalidConfig = errors.New("invalid ext_authz config")

// DefaultRequestIDHeader is Config.RequestIDHeader when it is empty: the header Envoy fills with its request id.
const DefaultRequestIDHeader = "x-request-id"

// Config configures the Check server.
type Config struct {
	// PublicBaseURL is the gateway's public base URL (resource.ParseBase): the resource_metadata URL of a 401
	// challenge points under it. Required.
	PublicBaseURL string
	// RequestIDHeader names the request header whose value is recorded as audit.Record.RequestID, to join audit
	// records with Envoy's access log; default DefaultRequestIDHeader. Matched case-insensitively.
	RequestIDHeader string
	// MCP bounds what the MCP request parser accepts; the zero value means its defaults. MaxBodyBytes should equal
	// the ext_authz filter's with_request_body.max_request_bytes.
	MCP mcp.Config
}

// Validate checks the configuration once, at start, and reports every problem; each error matches
// ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	if _, err := resource.ParseBase(c.PublicBaseURL); err != nil {
		errs = append(errs, fmt.Errorf("check public base URL: %w: %w", ErrInvalidConfig, err))
	}
	if c.RequestIDHeader != "" && !headerName(strings.ToLower(c.RequestIDHeader)) {
		errs = append(errs, fmt.Errorf("check request id header %q: not a header name: %w", c.RequestIDHeader, ErrInvalidConfig))
	}
	if err := c.MCP.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("check MCP parser limits: %w: %w", ErrInvalidConfig, err))
	}
	return errors.Join(errs...)
}

func (c Config) requestIDHeader() string {
	if c.RequestIDHeader == "" {
		return DefaultRequestIDHeader
	}
	return strings.ToLower(c.RequestIDHeader)
}

// headerName reports whether s is a lower-case HTTP field name (RFC 9110 token), as Envoy's header maps carry them.
func headerName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// headerValue reports whether s can be sent as an HTTP field value: no control characters other than
// horizontal tab, and no leading or trailing whitespace (RFC 9110 §5.5), so that no identity claim can split or
// forge a header.
func headerValue(s string) bool {
	for i := range len(s) {
		c := s[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return s == "" || (s[0] != ' ' && s[0] != '\t' && s[len(s)-1] != ' ' && s[len(s)-1] != '\t')
}
