package policy_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/mcpgw/mcpgw/authz/policy"
)

// tlogHandler sends log records to t.Logf and keeps them for assertions.
type tlogHandler struct {
	t     testing.TB
	attrs []slog.Attr
	mu    *sync.Mutex
	recs  *[]slog.Record
}

func newTLog(t testing.TB) (*slog.Logger, func() []slog.Record) {
	h := &tlogHandler{t: t, mu: &sync.Mutex{}, recs: &[]slog.Record{}}
	return slog.New(h), func() []slog.Record {
		h.mu.Lock()
		defer h.mu.Unlock()
		return append([]slog.Record(nil), *h.recs...)
	}
}

func (h *tlogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *tlogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.t.Log(b.String())
	h.mu.Lock()
	*h.recs = append(*h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}

func (h *tlogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

func (h *tlogHandler) WithGroup(string) slog.Handler { return h }

// acceptanceScope is the scope of the acceptance contract, verbatim.
const acceptanceScope = `{"name":"finance-read","grants":[{"server":"finance/ledger","methods":["tools/list",
"tools/call"],"tools":["get_balance"]}]}`

const acceptanceMapping = `{"group":"finance","scopes":["finance-read"]}`

func mustJSON[T any](t testing.TB, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// testData is the governance data most tests share.
func testData(t testing.TB) policy.Data {
	return policy.Data{
		Scopes: []policy.Scope{
			mustJSON[policy.Scope](t, acceptanceScope),
			{
				Name: "finance-write",
				Grants: []policy.Grant{{
					Server: "finance/*", Methods: []string{"tools/*"}, Tools: []string{"transfer", "get_*"},
				}},
				Publish: []string{"finance"},
			},
			{
				Name: "docs",
				Grants: []policy.Grant{{
					Server:  "docs/wiki",
					Methods: []string{"resources/*", "prompts/*"},
					Tools:   []string{"prompt:summarize", "resource:wiki://public/*", "tool:search"},
				}, {
					Kind: policy.KindSkill, Server: "*-handbook",
				}},
			},
			{
				Name: "support",
				Grants: []policy.Grant{
					{Kind: policy.KindVirtual, Server: "support", Methods: []string{"*"}, Tools: []string{"*"}},
					{Kind: policy.KindAny, Server: "support/*"},
				},
			},
			{
				Name:   "reports",
				Grants: []policy.Grant{{Server: "finance/ledger", Methods: []string{"tools/call"}, Tools: []string{"get_balance", "export"}}},
			},
		},
		GroupMappings: []policy.GroupMapping{
			mustJSON[policy.GroupMapping](t, acceptanceMapping),
			{Issuer: "https://corp.example", Group: "treasury", Scopes: []string{"finance-write"}},
			{Group: "writers", Scopes: []string{"docs"}},
			{Issuer: "https://partner.example", Group: "writers", Scopes: []string{"support"}},
		},
		ClientMappings: []policy.ClientMapping{
			{Issuer: "https://hydra.example", Client: "report-job", Scopes: []string{"reports"}},
		},
	}
}

func newEngine(t testing.TB, data policy.Data) *policy.Engine {
	t.Helper()
	log, _ := newTLog(t)
	e, err := policy.New(t.Context(), policy.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetData(t.Context(), data); err != nil {
		t.Fatal(err)
	}
	return e
}

func user(groups ...string) policy.Principal {
	return policy.Principal{Issuer: "https://corp.example", Subject: "alice", Groups: groups}
}

func machine(issuer, client string, scopes ...string) policy.Principal {
	return policy.Principal{Issuer: issuer, ClientID: client, Scopes: scopes}
}

func call(p policy.Principal, server, method, name string) policy.Input {
	return policy.Input{
		Principal: p,
		Target:    policy.Target{Kind: policy.KindServer, Server: server},
		MCP:       policy.MCP{Method: method, Name: name, HTTPMethod: "POST"},
	}
}
