package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// DefaultUserAgent is sent when no WithUserAgent option is given.
const DefaultUserAgent = "mcpgw-client"

// DefaultMaxResponseBytes bounds how much of a JSON response the client reads: a listing page of 500 servers with
// many tools each stays well below it, and a misbehaving endpoint cannot exhaust memory.
const DefaultMaxResponseBytes = 64 << 20

// maxProblemBytes bounds how much of an error response is read.
const maxProblemBytes = 1 << 20

// Client calls one mcpgw registry. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	hc        *http.Client
	token     string
	userAgent string
	maxBody   int64
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends the bearer token on every call.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient uses hc for every call (timeouts, TLS, proxies); the default is a client without a timeout, so
// deadlines come from each call's context.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header, e.g. "mcpctl/1.2.0".
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithMaxResponseBytes changes DefaultMaxResponseBytes.
func WithMaxResponseBytes(n int64) Option { return func(c *Client) { c.maxBody = n } }

// New returns a client of the registry at baseURL, an absolute http or https URL such as http://127.0.0.1:8080 or
// https://gw.example.com/registry (a path prefix is kept in front of every request path).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	switch {
	case err != nil:
		return nil, fmt.Errorf("new client: base URL %q: %w", baseURL, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return nil, fmt.Errorf("new client: base URL %q must be an absolute http or https URL", baseURL)
	case u.User != nil:
		return nil, fmt.Errorf("new client: base URL must not carry credentials; use a token")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("new client: base URL %q must not have a query or fragment", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	c := &Client{base: u, hc: http.DefaultClient, userAgent: DefaultUserAgent, maxBody: DefaultMaxResponseBytes}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	if c.maxBody <= 0 {
		return nil, errors.New("new client: the response size limit must be positive")
	}
	if strings.ContainsFunc(c.token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("new client: the token must not contain whitespace or control characters")
	}
	return c, nil
}

// BaseURL returns the registry's base URL as configured.
func (c *Client) BaseURL() string { return c.base.String() }

// CallOption adjusts one call of Do.
type CallOption func(*call)

type call struct {
	query   url.Values
	header  http.Header
	ifMatch int64
}

// IfMatch makes a write conditional on the object's current rev (sent as If-Match: "<rev>"). Zero sends nothing:
// the write is unconditional.
func IfMatch(rev int64) CallOption { return func(c *call) { c.ifMatch = rev } }

// WithQuery adds query parameters; empty values are left out.
func WithQuery(q url.Values) CallOption {
	return func(c *call) {
		for k, vs := range q {
			for _, v := range vs {
				if v != "" {
					c.query.Add(k, v)
				}
			}
		}
	}
}

// WithHeader sets a request header (Content-Type for a body that is not JSON, Accept for a stream).
func WithHeader(key, value string) CallOption { return func(c *call) { c.header.Set(key, value) } }

// Response describes a successful answer.
type Response struct {
	StatusCode int
	Header     http.Header
	// Rev is the ETag read as a catalog rev; 0 when the response carries no ETag or one this API did not issue.
	Rev int64
}

// BodyFunc may be passed as Do's out to read a response body as a stream (NDJSON, server-sent events). The body is
// closed when the function returns.
type BodyFunc func(body io.Reader) error

// Do sends one request and decodes the answer. path is the escaped path below the base URL, starting with a slash,
// optionally with a query (/api/v1/servers?tag=finance); build item paths with url.PathEscape.
//
// in is the request body: nil for none, []byte or json.RawMessage sent as they are, an io.Reader streamed, anything
// else encoded as JSON; it is sent as application/json unless a Content-Type header option says otherwise.
//
// out receives a 2xx answer: nil discards it, an io.Writer gets the raw body, a BodyFunc reads it as a stream, and
// anything else is decoded from JSON (a 204 leaves it untouched). A non-2xx answer is returned as *Error.
func (c *Client) Do(ctx context.Context, method, path string, in, out any, opts ...CallOption) (*Response, error) {
	resp, err := c.send(ctx, method, path, in, opts)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	r := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Rev: parseETag(resp.Header.Get("ETag"))}
	if err := c.readBody(resp, out); err != nil {
		return r, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return r, nil
}

func (c *Client) send(ctx context.Context, method, path string, in any, opts []CallOption) (*http.Response, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("the path must start with a slash")
	}
	cl := call{query: url.Values{}, header: http.Header{}}
	for _, o := range opts {
		o(&cl)
	}
	u, err := url.Parse(c.base.Scheme + "://" + c.base.Host + c.base.EscapedPath() + path)
	if err != nil {
		return nil, fmt.Errorf("build URL: %w", err)
	}
	if len(cl.query) > 0 {
		q := u.Query()
		for k, vs := range cl.query {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
	}
	body, err := requestBody(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if cl.ifMatch != 0 {
		req.Header.Set("If-Match", `"`+strconv.FormatInt(cl.ifMatch, 10)+`"`)
	}
	for k, vs := range cl.header {
		req.Header[k] = vs
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBytes))
		return nil, decodeError(resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	return resp, nil
}

// requestBody returns the body to send for in, or nil for none.
func requestBody(in any) (io.Reader, error) {
	switch b := in.(type) {
	case nil:
		return nil, nil
	case []byte:
		return bytes.NewReader(b), nil
	case json.RawMessage:
		return bytes.NewReader(b), nil
	case io.Reader:
		return b, nil
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode request body: %w", err)
	}
	return bytes.NewReader(raw), nil
}

func (c *Client) readBody(resp *http.Response, out any) error {
	switch o := out.(type) {
	case nil:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.maxBody))
		return nil
	case BodyFunc:
		return o(resp.Body)
	case func(io.Reader) error:
		return o(resp.Body)
	case io.Writer:
		if _, err := io.Copy(o, resp.Body); err != nil {
			return fmt.Errorf("read response: %w", err)
		}
		return nil
	}
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if int64(len(raw)) > c.maxBody {
		return fmt.Errorf("read response: the body exceeds the limit of %d bytes", c.maxBody)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// parseETag reads an ETag of this API ("42", or W/"42" after a proxy weakened it) as a rev.
func parseETag(etag string) int64 {
	s := strings.TrimPrefix(strings.TrimSpace(etag), "W/")
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0
	}
	n, err := strconv.ParseInt(s[1:len(s)-1], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
