package dataplane

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// Response flags and details, as Envoy writes them to the access log.
const (
	flagNoRoute        = "NR"
	flagNoCluster      = "NC"
	flagNoHealthy      = "UH"
	flagUpstreamFail   = "UF"
	flagOverflow       = "UO"
	flagTimeout        = "UT"
	flagUnauthorized   = "UAEX"
	flagDownstreamTerm = "DC"
)

// listenerHandler serves one listener: every request reads the listener's current configuration.
type listenerHandler struct {
	d    *DataPlane
	name string
}

func (lh listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lc := lh.d.state.Load().listeners[lh.name]
	if lc == nil {
		// The listener was removed and is draining.
		http.Error(w, "listener removed", http.StatusServiceUnavailable)
		return
	}
	x := &exchange{start: time.Now(), req: r}
	rw := &responseRecorder{ResponseWriter: w, x: x}
	body := &countingReader{r: r.Body, n: &x.bytesIn}
	r.Body = body
	lh.d.serve(lc.hcm, rw, r, x)
	x.end = time.Now()
	if x.status == 0 {
		x.status = http.StatusOK
	}
	x.respHeader = w.Header()
	for _, al := range lc.hcm.accessLogs {
		lh.d.writeAccessLog(al.render(x))
	}
}

// serve runs the connection manager's steps, then the HTTP filters, in Envoy's order.
func (d *DataPlane) serve(h *hcmConfig, w *responseRecorder, r *http.Request, x *exchange) {
	if h.rejectUnderscores {
		for k := range r.Header {
			if strings.Contains(k, "_") {
				d.localReply(w, x, http.StatusBadRequest, nil, "", "", "http1.unexpected_underscore")
				return
			}
		}
	}
	path, redirect, err := h.normalize(r.RequestURI)
	if err != nil {
		d.localReply(w, x, http.StatusBadRequest, nil, "", "", "path_normalization_failed")
		return
	}
	if redirect {
		w.Header().Set("Location", path)
		d.localReply(w, x, http.StatusTemporaryRedirect, nil, "", "", "path_normalization_redirect")
		return
	}
	h.sanitize(r)
	ctx := r.Context()
	if h.maxStream > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.maxStream)
		defer cancel()
		r = r.WithContext(ctx)
	}

	st := d.state.Load()
	table := st.routes[h.routeConfig]
	var rt *route
	if table != nil {
		rt = table.match(r.Host, path, r.Header)
	}
	if rt == nil {
		d.localReply(w, x, http.StatusNotFound, nil, "", flagNoRoute, "route_not_found")
		return
	}
	x.route = rt.name

	var respHeaders []*corev3.HeaderValueOption
	if h.authz != nil && !rt.authzDisabled {
		v, ok := d.authorize(h.authz, w, r, x, path, rt)
		if !ok {
			return
		}
		respHeaders = v.responseHeaders
	}

	if rt.direct != nil {
		hdr := w.Header()
		if len(rt.direct.body) > 0 {
			hdr.Set("Content-Type", "text/plain")
		}
		for _, o := range rt.responseHeadersToAdd {
			applyHeaderOption(hdr, o, false)
		}
		hdr.Set("Content-Length", fmt.Sprint(len(rt.direct.body)))
		d.localReply(w, x, rt.direct.status, rt.direct.body, "", "", "direct_response")
		return
	}
	d.route(h, st, w, r, x, path, rt, respHeaders)
}

// authorize runs the ext_authz filter: buffer the body up to the limit, ask, and apply the answer. It reports
// whether the request continues; when it does not, the local reply has been written.
func (d *DataPlane) authorize(f *authzFilter, w *responseRecorder, r *http.Request, x *exchange, path string,
	rt *route) (*verdict, bool) {
	hasBody := r.ContentLength != 0
	var buf []byte
	partial := false
	if f.withBody && hasBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, int64(f.maxBody)+1))
		if err != nil {
			x.flags, x.details = flagDownstreamTerm, "downstream_remote_disconnect"
			x.status = 499
			return nil, false
		}
		if len(b) > f.maxBody {
			if !f.allowPartial {
				d.localReply(w, x, http.StatusRequestEntityTooLarge, []byte("Payload Too Large"), "", "", "request_payload_too_large")
				return nil, false
			}
			partial = true
			// Keep the byte read past the limit for the upstream, but do not show it to authz.
			buf = b[:f.maxBody]
		} else {
			buf = b
		}
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), r.Body))
	}
	req := checkRequest(r, path, d.streamID.Add(1), buf, hasBody, partial, f, rt.contextExt)
	v, err := d.check(r.Context(), f, req)
	if err != nil {
		d.log.Warn("ext_authz failed", "route", rt.name, "error", err)
		if f.failureModeAllow {
			return &verdict{allow: true}, true
		}
		d.localReply(w, x, f.statusOnError, nil, "", flagUnauthorized, "ext_authz_error")
		return nil, false
	}
	x.metadata = map[string]*structpb.Struct{filterExtAuthz: v.metadata}
	if !v.allow {
		for _, o := range v.deniedHeaders {
			applyHeaderOption(w.Header(), o, true)
		}
		d.localReply(w, x, v.status, v.body, "", flagUnauthorized, "ext_authz_denied")
		return nil, false
	}
	for _, o := range v.headers {
		applyHeaderOption(r.Header, o, true)
	}
	for _, name := range v.remove {
		r.Header.Del(name)
	}
	return v, true
}

// route proxies the request to an endpoint of the route's cluster, streaming the response as it comes.
func (d *DataPlane) route(h *hcmConfig, st *state, w *responseRecorder, r *http.Request, x *exchange, path string,
	rt *route, authzResponseHeaders []*corev3.HeaderValueOption) {
	c := st.clusters[rt.cluster]
	if c == nil {
		c = d.static[rt.cluster]
	}
	x.cluster = rt.cluster
	if c == nil {
		d.localReply(w, x, http.StatusServiceUnavailable, nil, "", flagNoCluster, "cluster_not_found")
		return
	}
	if c.inflight.Add(1) > c.maxRequests {
		c.inflight.Add(-1)
		d.localReply(w, x, http.StatusServiceUnavailable, []byte("upstream connect error or disconnect/reset before headers. reset reason: overflow"),
			"", flagOverflow, "upstream_reset_before_response_started{overflow}")
		return
	}
	defer c.inflight.Add(-1)

	sessionHdr := rt.session
	if sessionHdr == "" {
		sessionHdr = h.session
	}
	preferred := ""
	if sessionHdr != "" {
		preferred = openEnvelope(r.Header, sessionHdr)
	}
	key, hasKey := "", false
	if rt.hashHeader != "" {
		if vs := r.Header.Values(rt.hashHeader); len(vs) > 0 {
			key, hasKey = strings.Join(vs, ","), true
		}
	}
	up := c.pick(preferred, key, hasKey)
	if up == nil {
		d.localReply(w, x, http.StatusServiceUnavailable, []byte("no healthy upstream"), "", flagNoHealthy, "no_healthy_upstream")
		return
	}
	x.upstreamHost = up.addr

	ctx := r.Context()
	if rt.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rt.timeout)
		defer cancel()
	}
	scheme := "http"
	if up.socket.tls != nil {
		scheme = "https"
	}
	target := rt.rewrite(path)
	for _, name := range rt.requestHeadersToRemove {
		r.Header.Del(name)
	}
	started := time.Now()
	proxy := &httputil.ReverseProxy{
		Transport:     up.socket.transport,
		FlushInterval: -1, // stream: every write of the upstream reaches the client at once (SSE)
		ErrorLog:      d.proxyLog,
		Rewrite: func(pr *httputil.ProxyRequest) {
			u, _ := url.Parse(target)
			pr.Out.URL.Scheme, pr.Out.URL.Host = scheme, up.addr
			pr.Out.URL.Path, pr.Out.URL.RawPath, pr.Out.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
			pr.Out.Host = r.Host
			if rt.autoHost && up.hostname != "" {
				pr.Out.Host = up.hostname
			}
			// Rewrite mode drops the X-Forwarded-* headers; the connection manager already set them.
			for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"} {
				if v, ok := pr.In.Header[k]; ok {
					pr.Out.Header[k] = v
				}
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			x.details = "via_upstream"
			for _, o := range rt.responseHeadersToAdd {
				applyHeaderOption(resp.Header, o, false)
			}
			for _, o := range authzResponseHeaders {
				applyHeaderOption(resp.Header, o, false)
			}
			if sessionHdr != "" {
				sealEnvelope(resp.Header, sessionHdr, up.addr)
			}
			if !h.suppressHdrs {
				resp.Header.Set("X-Envoy-Upstream-Service-Time", fmt.Sprint(time.Since(started).Milliseconds()))
			}
			resp.Header.Set("Server", "envoy")
			return nil
		},
		ErrorHandler: func(rw http.ResponseWriter, _ *http.Request, err error) {
			if x.details == "via_upstream" {
				// The response had started: the stream is reset, as Envoy does mid-response.
				x.flags = "UR"
				return
			}
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				d.localReply(w, x, http.StatusGatewayTimeout, []byte("upstream request timeout"), "", flagTimeout,
					"upstream_response_timeout")
			case errors.Is(err, context.Canceled):
				x.status, x.flags, x.details = 499, flagDownstreamTerm, "downstream_remote_disconnect"
			default:
				d.log.Debug("upstream failed", "cluster", c.name, "host", up.addr, "error", err)
				d.localReply(w, x, http.StatusServiceUnavailable,
					[]byte("upstream connect error or disconnect/reset before headers. reset reason: connection failure"),
					"", flagUpstreamFail, "upstream_reset_before_response_started{connection_failure}")
			}
		},
	}
	proxy.ServeHTTP(w, r.WithContext(ctx))
}

// localReply answers from the data plane itself.
func (d *DataPlane) localReply(w *responseRecorder, x *exchange, status int, body []byte, contentType, flags, details string) {
	hdr := w.Header()
	if contentType != "" {
		hdr.Set("Content-Type", contentType)
	} else if len(body) > 0 && hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", "text/plain")
	}
	hdr.Set("Server", "envoy")
	x.flags, x.details = flags, details
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// normalize applies the connection manager's path handling to the request target: escaped slashes are unescaped
// with a redirect (UNESCAPE_AND_REDIRECT), dot segments are removed (normalize_path), and runs of slashes merged
// (merge_slashes). It returns the :path routes match and authz sees.
func (h *hcmConfig) normalize(target string) (string, bool, error) {
	if !strings.HasPrefix(target, "/") {
		return "", false, fmt.Errorf("request target %q is not in origin form: %w", target, ErrInvalid)
	}
	p, q := target, ""
	if i := strings.IndexByte(target, '?'); i >= 0 {
		p, q = target[:i], target[i:]
	}
	if h.unescapeSlashes {
		lower := strings.ToLower(p)
		if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
			r := strings.NewReplacer("%2F", "/", "%2f", "/", "%5C", "\\", "%5c", "\\")
			return r.Replace(p) + q, true, nil
		}
	}
	if h.normalizePath {
		p = removeDotSegments(p)
	}
	if h.mergeSlashes {
		for strings.Contains(p, "//") {
			p = strings.ReplaceAll(p, "//", "/")
		}
	}
	return p + q, false, nil
}

// removeDotSegments is RFC 3986 §5.2.4 on an absolute path.
func removeDotSegments(p string) string {
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		switch s {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	res := strings.Join(out, "/")
	if !strings.HasPrefix(res, "/") {
		res = "/" + res
	}
	return res
}

// sanitize applies the connection manager's request header handling at the edge (use_remote_address): the
// client's x-envoy-* headers are dropped, X-Forwarded-For gets the peer address, X-Forwarded-Proto is the
// downstream scheme, and a request without X-Request-Id gets one.
func (h *hcmConfig) sanitize(r *http.Request) {
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-envoy-") {
			r.Header.Del(k)
		}
	}
	if h.useRemoteAddress {
		if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
				r.Header.Set("X-Forwarded-For", prior+","+ip)
			} else {
				r.Header.Set("X-Forwarded-For", ip)
			}
		}
		r.Header.Set("X-Forwarded-Proto", "http")
	}
	if r.Header.Get("X-Request-Id") == "" {
		r.Header.Set("X-Request-Id", uuid4())
	}
}

func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// openEnvelope reads an envelope stateful-session header (base64(host);UV:base64(original)): it restores the
// upstream's original value for the upstream and returns the host the session lives on. A header that is not an
// envelope is left alone.
func openEnvelope(h http.Header, name string) string {
	vs := h.Values(name)
	if len(vs) != 1 {
		return ""
	}
	parts := strings.Split(vs[0], ";")
	hostRaw, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		return ""
	}
	for _, p := range parts[1:] {
		if uv, ok := strings.CutPrefix(p, "UV:"); ok {
			orig, err := base64.StdEncoding.DecodeString(uv)
			if err != nil || len(orig) == 0 {
				return ""
			}
			h.Set(name, string(orig))
			return string(hostRaw)
		}
	}
	return ""
}

// sealEnvelope wraps the upstream's session header with the address of the endpoint that answered.
func sealEnvelope(h http.Header, name, hostAddr string) {
	vs := h.Values(name)
	if len(vs) != 1 {
		return
	}
	h.Set(name, base64.StdEncoding.EncodeToString([]byte(hostAddr))+";UV:"+base64.StdEncoding.EncodeToString([]byte(vs[0])))
}

// responseRecorder notes the status and counts the bytes written; Unwrap keeps http.ResponseController's Flush
// reaching the connection, so streams are not buffered.
type responseRecorder struct {
	http.ResponseWriter
	x     *exchange
	wrote bool
}

func (w *responseRecorder) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.x.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseRecorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.x.bytesOut += int64(n)
	return n, err
}

func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type countingReader struct {
	r io.ReadCloser
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }
