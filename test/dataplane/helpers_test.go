package dataplane

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/xds/ir"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// testCA is a self-signed CA and a server certificate it issued for 127.0.0.1 and "upstream.test".
type testCA struct {
	pem  []byte
	cert tls.Certificate
}

var (
	caOnce sync.Once
	ca     testCA
)

func theTestCA(t testing.TB) testCA {
	t.Helper()
	caOnce.Do(func() {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dataplane test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
			KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		caCert, _ := x509.ParseCertificate(der)
		leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "upstream.test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			DNSNames: []string{"upstream.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
		leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, key)
		if err != nil {
			panic(err)
		}
		ca.pem = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		ca.cert = tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
	})
	return ca
}

func testCAPEM(t testing.TB) []byte { return theTestCA(t).pem }

// testLogger sends logs to t.Log until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeAuthz is the ext_authz service at the other end of the gRPC boundary: it records every CheckRequest and
// answers with decide.
type fakeAuthz struct {
	authv3.UnimplementedAuthorizationServer
	mu     sync.Mutex
	reqs   []*authv3.CheckRequest
	decide func(*authv3.CheckRequest) (*authv3.CheckResponse, error)
}

func (f *fakeAuthz) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, proto.Clone(req).(*authv3.CheckRequest))
	decide := f.decide
	f.mu.Unlock()
	return decide(req)
}

func (f *fakeAuthz) set(decide func(*authv3.CheckRequest) (*authv3.CheckResponse, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decide = decide
	f.reqs = nil
}

func (f *fakeAuthz) requests() []*authv3.CheckRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*authv3.CheckRequest(nil), f.reqs...)
}

// harness runs a data plane against go-control-plane's ADS server fed by mcpgw's own translator, a fake ext_authz
// service and a registry stand-in.
type harness struct {
	t        testing.TB
	cache    cachev3.SnapshotCache
	version  int
	authz    *fakeAuthz
	dp       *DataPlane
	port     uint32
	base     string
	caFile   string
	log      *syncBuffer
	registry *http.ServeMux
}

func serveGRPC(t testing.TB, register func(*grpc.Server)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	register(gs)
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)
	return l.Addr().String()
}

func freePort(t testing.TB) uint32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint32(l.Addr().(*net.TCPAddr).Port)
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, cache: cachev3.NewSnapshotCache(false, cachev3.IDHash{}, nil), port: freePort(t),
		authz: &fakeAuthz{}, log: &syncBuffer{}, registry: http.NewServeMux()}
	h.authz.set(allow(nil, nil))
	h.base = fmt.Sprintf("http://127.0.0.1:%d", h.port)
	h.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(h.caFile, testCAPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	ads := serverv3.NewServer(ctx, h.cache, nil)
	xdsAddr := serveGRPC(t, func(gs *grpc.Server) { discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, ads) })
	authzAddr := serveGRPC(t, func(gs *grpc.Server) { authv3.RegisterAuthorizationServer(gs, h.authz) })
	reg := &http.Server{Handler: h.registry, ReadHeaderTimeout: time.Second}
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = reg.Serve(rl) }()
	t.Cleanup(func() { _ = reg.Close() })

	b, err := LoadBootstrap("../../envoy/bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]string{translate.XDSCluster: xdsAddr, translate.AuthzCluster: authzAddr,
		translate.RegistryCluster: rl.Addr().String()} {
		if err := SetClusterAddress(b, name, addr); err != nil {
			t.Fatal(err)
		}
	}
	h.dp, err = New(Config{Bootstrap: b, BindHost: "127.0.0.1", AccessLog: h.log, Logger: testLogger(t),
		RetryInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.dp.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("data plane Run: %v", err)
		}
	})
	return h
}

// servers decodes catalog servers from JSON, as the registry API would.
func servers(t testing.TB, docs ...string) []*catalog.Server {
	t.Helper()
	var out []*catalog.Server
	for _, d := range docs {
		s := new(catalog.Server)
		dec := json.NewDecoder(strings.NewReader(d))
		dec.DisallowUnknownFields()
		if err := dec.Decode(s); err != nil {
			t.Fatalf("decode %s: %v", d, err)
		}
		s.Normalize()
		if err := s.Validate(); err != nil {
			t.Fatalf("server %s: %v", s.Name, err)
		}
		out = append(out, s)
	}
	return out
}

// push translates the catalog with mcpgw's translator, publishes it as the node's snapshot, and waits until the
// data plane has applied every type of it.
func (h *harness) push(cat []*catalog.Server, mutate ...func(*translate.Resources)) {
	h.t.Helper()
	m, errs := ir.FromCatalog(cat, nil)
	if len(errs) > 0 {
		h.t.Fatal(errors.Join(errs...))
	}
	o := translate.DefaultOptions()
	o.ListenerPort = h.port
	o.CABundle = h.caFile
	tr, err := translate.New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	res, err := tr.Gateway(m.Gateway(ir.DefaultFleet))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range mutate {
		f(res)
	}
	h.publish(res)
}

// publish sets a snapshot of the resources and waits for the data plane to accept or reject each type.
func (h *harness) publish(res *translate.Resources) {
	h.t.Helper()
	h.version++
	v := fmt.Sprintf("v%d", h.version)
	conv := func(n int, get func(int) types.Resource) []types.Resource {
		out := make([]types.Resource, n)
		for i := range n {
			out[i] = get(i)
		}
		return out
	}
	snap, err := cachev3.NewSnapshot(v, map[resourcev3.Type][]types.Resource{
		resourcev3.ListenerType: conv(len(res.Listeners), func(i int) types.Resource { return res.Listeners[i] }),
		resourcev3.RouteType:    conv(len(res.Routes), func(i int) types.Resource { return res.Routes[i] }),
		resourcev3.ClusterType:  conv(len(res.Clusters), func(i int) types.Resource { return res.Clusters[i] }),
		resourcev3.EndpointType: conv(len(res.Endpoints), func(i int) types.Resource { return res.Endpoints[i] }),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.cache.SetSnapshot(context.Background(), "envoy-1", snap); err != nil {
		h.t.Fatal(err)
	}
}

// waitVersion waits until the listener, route and cluster types are at the current version.
func (h *harness) waitVersion() Status {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v := fmt.Sprintf("v%d", h.version)
	st, err := h.dp.WaitFor(ctx, func(s Status) bool {
		return s.Versions[resourcev3.ListenerType] == v && s.Versions[resourcev3.RouteType] == v &&
			s.Versions[resourcev3.ClusterType] == v
	})
	if err != nil {
		h.t.Fatalf("data plane never applied %s: %v (status %+v)", v, err, st)
	}
	return st
}

// allow answers OK with the given upstream headers and headers to remove.
func allow(set map[string]string, remove []string) func(*authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return func(*authv3.CheckRequest) (*authv3.CheckResponse, error) {
		ok := &authv3.OkHttpResponse{HeadersToRemove: remove}
		for k, v := range set {
			ok.Headers = append(ok.Headers, headerOpt(k, v))
		}
		return &authv3.CheckResponse{Status: okStatus(), HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok}}, nil
	}
}
