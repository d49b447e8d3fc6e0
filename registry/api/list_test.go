package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// page is one page of a listing.
type page struct {
	Items      []obj  `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// names lists the name of each item.
func (p page) names() []string {
	out := make([]string, len(p.Items))
	for i, o := range p.Items {
		out[i] = fmt.Sprint(o["name"])
	}
	return out
}

// walk lists a collection page by page and returns every name in order.
func walk(t *testing.T, e *env, collection string, query url.Values, limit int) (names []string, pages int) {
	t.Helper()
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("limit", fmt.Sprint(limit))
	for {
		var p page
		e.do(t, http.MethodGet, collection+"?"+q.Encode(), nil).want(t, http.StatusOK).decode(t, &p)
		pages++
		if len(p.Items) > limit {
			t.Fatalf("page of %d items with limit %d", len(p.Items), limit)
		}
		names = append(names, p.names()...)
		if p.NextCursor == "" {
			return names, pages
		}
		if len(p.Items) == 0 {
			t.Fatalf("an empty page with a next_cursor")
		}
		q.Set("cursor", p.NextCursor)
	}
}

func TestPaginationWhileWriting(t *testing.T) {
	// Invariant: keyset pagination stays consistent while assets are added and removed during the walk: items come in
	// strictly increasing name order (so none twice), every asset that exists for the whole walk is listed, and no
	// asset that never existed is.
	e := newEnv(t)
	const stable = 40
	var stableNames []string
	for i := range stable {
		n := fmt.Sprintf("ns/s%03d", i*2) // even numbers stay
		stableNames = append(stableNames, n)
		e.create(t, "/api/v1/servers", serverBody(n))
	}
	// Odd numbers come and go during the walk.
	for i := range stable {
		if i%2 == 0 {
			e.create(t, "/api/v1/servers", serverBody(fmt.Sprintf("ns/s%03d", i*2+1)))
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for round := 0; ; round++ {
			for i := range stable {
				select {
				case <-stop:
					return
				default:
				}
				n := fmt.Sprintf("ns/s%03d", i*2+1)
				if (i+round)%2 == 0 {
					e.do(t, http.MethodDelete, "/api/v1/servers/"+n, nil)
				} else {
					e.do(t, http.MethodPost, "/api/v1/servers", serverBody(n))
				}
			}
		}
	}()
	for _, limit := range []int{1, 3, 7, 50} {
		names, pages := walk(t, e, "/api/v1/servers", nil, limit)
		for i := 1; i < len(names); i++ {
			if names[i] <= names[i-1] {
				t.Fatalf("limit %d: %q after %q: not strictly increasing", limit, names[i], names[i-1])
			}
		}
		for _, n := range stableNames {
			if !slices.Contains(names, n) {
				t.Fatalf("limit %d: %s, which existed throughout, was skipped (%d pages: %v)", limit, n, pages, names)
			}
		}
		for _, n := range names {
			var i int
			if _, err := fmt.Sscanf(n, "ns/s%03d", &i); err != nil || i >= 2*stable {
				t.Fatalf("limit %d: unexpected item %q", limit, n)
			}
		}
		t.Logf("limit %d: %d items in %d pages", limit, len(names), pages)
	}
	close(stop)
	wg.Wait()
}

func TestListDefaultsAndFilters(t *testing.T) {
	// Invariant: a listing returns 50 items by default and up to limit (at most 500), in name order; tag, status,
	// namespace and q filter before the limit, so a filtered page is full when it can be, and they combine.
	e := newEnv(t)
	for i := range 55 {
		ns := "alpha"
		if i%5 == 0 {
			ns = "beta"
		}
		b := serverBody(fmt.Sprintf("%s/srv%02d", ns, i))
		if i%3 == 0 {
			b["tags"] = arr{"Finance", "eu"}
			b["description"] = "Settles LEDGER entries"
		} else {
			b["tags"] = arr{"ops"}
		}
		if i%4 == 0 {
			b["status"] = "deprecated"
		}
		e.create(t, "/api/v1/servers", b)
	}
	var p page
	e.do(t, http.MethodGet, "/api/v1/servers", nil).want(t, http.StatusOK).decode(t, &p)
	if len(p.Items) != 50 || p.NextCursor == "" {
		t.Fatalf("default page: %d items, next_cursor %q", len(p.Items), p.NextCursor)
	}
	p = page{}
	e.do(t, http.MethodGet, "/api/v1/servers?limit=500", nil).want(t, http.StatusOK).decode(t, &p)
	if len(p.Items) != 55 || p.NextCursor != "" || !slices.IsSorted(p.names()) {
		t.Fatalf("limit 500: %d items, next_cursor %q, sorted %v", len(p.Items), p.NextCursor, slices.IsSorted(p.names()))
	}

	count := func(pred func(i int) bool) int {
		n := 0
		for i := range 55 {
			if pred(i) {
				n++
			}
		}
		return n
	}
	cases := []struct {
		query string
		want  int
	}{
		{"tag=finance", count(func(i int) bool { return i%3 == 0 })},
		{"tag=FINANCE", count(func(i int) bool { return i%3 == 0 })},
		{"tag=none", 0},
		{"status=deprecated", count(func(i int) bool { return i%4 == 0 })},
		{"status=enabled", count(func(i int) bool { return i%4 != 0 })},
		{"namespace=beta", count(func(i int) bool { return i%5 == 0 })},
		{"namespace=gamma", 0},
		{"q=ledger", count(func(i int) bool { return i%3 == 0 })},
		{"q=SRV1", 10},
		{"q=payments", 55}, // the title
		{"tag=finance&status=deprecated&namespace=beta", count(func(i int) bool { return i%3 == 0 && i%4 == 0 && i%5 == 0 })},
	}
	for _, c := range cases {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		names, _ := walk(t, e, "/api/v1/servers", q, 6)
		if len(names) != c.want {
			t.Errorf("%s: %d items, want %d: %v", c.query, len(names), c.want, names)
		}
		if ns := q.Get("namespace"); ns != "" {
			for _, n := range names {
				if !strings.HasPrefix(n, ns+"/") {
					t.Errorf("%s: %s is in another namespace", c.query, n)
				}
			}
		}
	}
}

func TestVisibility(t *testing.T) {
	// Invariant: a caller without grants sees public assets only: listings leave restricted ones out, reads and
	// writes of them answer 404 (as for a missing object), writes of public ones 403, and access data and the audit
	// trail are hidden (empty listings, 404, 403). Entity types are schemas, visible to every caller.
	e := newEnv(t)
	e.create(t, "/api/v1/servers", serverBody("ns/restricted"))
	e.create(t, "/api/v1/servers", with(serverBody("ns/public"), "visibility", "public"))
	e.create(t, "/api/v1/scopes", scopeBody("finance-read"))
	e.create(t, "/api/v1/entity-types", entityTypeBody("dataset"))
	user := as(e.user)

	var p page
	e.do(t, http.MethodGet, "/api/v1/servers", nil, user).want(t, http.StatusOK).decode(t, &p)
	if got := p.names(); !slices.Equal(got, []string{"ns/public"}) {
		t.Fatalf("user lists %v", got)
	}
	e.do(t, http.MethodGet, "/api/v1/servers/ns/public", nil, user).want(t, http.StatusOK)
	e.do(t, http.MethodGet, "/api/v1/servers/ns/public/versions", nil, user).want(t, http.StatusOK)
	e.do(t, http.MethodGet, "/api/v1/servers/ns/restricted", nil, user).want(t, http.StatusNotFound)
	e.do(t, http.MethodGet, "/api/v1/servers/ns/restricted/versions/1.0.0", nil, user).want(t, http.StatusNotFound)
	e.do(t, http.MethodPatch, "/api/v1/servers/ns/restricted", obj{"title": "x"}, user,
		header("Content-Type", "application/merge-patch+json")).want(t, http.StatusNotFound)
	e.do(t, http.MethodPatch, "/api/v1/servers/ns/public", obj{"title": "x"}, user,
		header("Content-Type", "application/merge-patch+json")).want(t, http.StatusForbidden)
	e.do(t, http.MethodDelete, "/api/v1/servers/ns/public", nil, user).want(t, http.StatusForbidden)
	e.do(t, http.MethodPost, "/api/v1/servers/ns/public/versions", obj{"version": "2.0.0", "url": "http://127.0.0.1:9/v2"},
		user).want(t, http.StatusForbidden)

	p = page{}
	e.do(t, http.MethodGet, "/api/v1/scopes", nil, user).want(t, http.StatusOK).decode(t, &p)
	if len(p.Items) != 0 {
		t.Fatalf("user lists scopes %v", p.names())
	}
	e.do(t, http.MethodGet, "/api/v1/scopes/finance-read", nil, user).want(t, http.StatusNotFound)
	p = page{}
	e.do(t, http.MethodGet, "/api/v1/entity-types", nil, user).want(t, http.StatusOK).decode(t, &p)
	if len(p.Items) != 1 {
		t.Fatalf("user lists entity types %v", p.names())
	}
	e.do(t, http.MethodGet, "/api/v1/audit", nil, user).want(t, http.StatusForbidden)

	// A group mapping grants finance-read to its members: servers matching its grant (finance/*) become visible,
	// with only the tools the grant names; ns/restricted stays hidden.
	e.create(t, "/api/v1/servers", withVersion(serverBody("finance/pay"), "tools", arr{obj{"name": "t"}, obj{"name": "refund"}}))
	e.create(t, "/api/v1/group-mappings", groupMappingBody("finance", "finance-read"))
	fin := e.token(t, "carol", "finance")
	p = page{}
	e.do(t, http.MethodGet, "/api/v1/servers", nil, as(fin)).want(t, http.StatusOK).decode(t, &p)
	if got := p.names(); !slices.Equal(got, []string{"finance/pay", "ns/public"}) {
		t.Fatalf("finance member lists %v", got)
	}
	got := e.do(t, http.MethodGet, "/api/v1/servers/finance/pay/versions/1.0.0", nil, as(fin)).want(t, http.StatusOK).object(t)
	if tools := fmt.Sprint(got["tools"]); tools != "[map[name:t]]" {
		t.Fatalf("finance member sees tools %s, want only t", tools)
	}
	// The scope publishes in finance: its holders may write there, and nowhere else.
	e.do(t, http.MethodPost, "/api/v1/servers", serverBody("finance/new"), as(fin)).want(t, http.StatusCreated)
	e.do(t, http.MethodPost, "/api/v1/servers", serverBody("ops/new"), as(fin)).want(t, http.StatusForbidden)
}
