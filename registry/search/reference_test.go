package search_test

import (
	"testing"

	"github.com/mcpgw/mcpgw/registry/search"
)

func TestCentringOneAsset(t *testing.T) {
	// Invariant: a catalog of one server with one tool has a working dense half. Centred on their own mean alone,
	// the server's and the tool's vectors are each other's opposites and the dense half matches nothing; the
	// reference prior (reference.go) keeps a related query's centred cosine high and unrelated queries unanswered.
	x := newIndex(t, search.Options{})
	x.Load(search.Objects{server(t, "finance/ledger", "Ledger", "Balances and transfers for the general ledger",
		"get_balance:Current balance of an account")})
	flush(t, x)
	ask := func(q string) []search.Result {
		t.Helper()
		res, err := x.Search(t.Context(), search.Query{Text: q, Limit: 1, Explain: true}, search.Everything{})
		if err != nil {
			t.Fatal(err)
		}
		return res.Results
	}
	for _, q := range []string{"ledger balance", "what is the balance of my bank account"} {
		res := ask(q)
		if len(res) != 1 || res[0].Explain.DenseRank != 1 || res[0].Explain.Cosine < 0.5 {
			t.Errorf("%q: %+v, want finance/ledger with dense rank 1 and a centred cosine of at least 0.5", q, res)
		} else {
			t.Logf("%q: centred cosine %.3f", q, res[0].Explain.Cosine)
		}
	}
	for _, q := range []string{"live football scores and betting odds", "book a flight to Paris", "restart the kubernetes pod"} {
		if res := ask(q); len(res) != 0 {
			t.Errorf("%q: %+v, want no result", q, res)
		}
	}
}
