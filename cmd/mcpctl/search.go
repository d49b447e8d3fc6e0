package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/cmd/internal/app"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/search/eval"
)

func searchCommand() *command {
	return &command{name: "search", summary: "search the catalog, and measure search quality", subs: []*command{
		{name: "query", summary: "search the registry's servers, agents, skills and entities", args: "QUERY...",
			setup: searchQueryCmd},
		{name: "eval", summary: "load a labelled dataset into a fresh embedded registry and report NDCG@10, MRR and " +
			"Recall@10 (contacts no server)", setup: searchEvalCmd},
	}}
}

// searchResults is the API's answer (search.Results with what the table shows).
type searchResults = search.Results

func searchTable() table[search.Result] {
	return table[search.Result]{
		columns: []string{"TYPE", "NAME", "SCORE", "TITLE", "MATCHED"},
		row: func(r search.Result) []string {
			var m []string
			for _, t := range r.MatchedTools {
				m = append(m, t.Name)
			}
			for _, s := range r.MatchedSkills {
				m = append(m, s.Name)
			}
			name := r.Name
			if r.EntityType != "" {
				name = r.EntityType + ":" + r.Name
			}
			return []string{string(r.Type), name, strconv.FormatFloat(r.Score, 'f', 3, 64), r.Title, strings.Join(m, ",")}
		},
	}
}

func searchQueryCmd(fs *flag.FlagSet) runFunc {
	// Lists as authz explain takes them: "server, agent" and a trailing comma mean what they say.
	var types, status stringList
	fs.Var(&types, "types", "comma-separated `TYPES` to search: server, agent, skill, entity (default all)")
	fs.Var(&status, "status", "comma-separated `STATUSES` to include (default enabled)")
	limit := fs.Int("limit", 10, "number of results, 1 to 100")
	return func(ctx context.Context, c *cli, args []string) error {
		q := strings.TrimSpace(strings.Join(args, " "))
		if q == "" {
			return errors.New("search query needs the text to search for")
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		var res searchResults
		body := map[string]any{"q": q, "limit": *limit}
		if len(types) > 0 {
			body["types"] = []string(types)
		}
		if len(status) > 0 {
			body["status"] = []string(status)
		}
		// POST: queries of any length, and the body's field errors name what to fix.
		if _, err := cl.Do(ctx, http.MethodPost, "/api/v1/search", body, &res); err != nil {
			return err
		}
		if c.output != outTable {
			return c.printValue(res)
		}
		return printItems(c, searchTable(), res.Results, "results")
	}
}

// defaultDataset is the dev set's copy in the repository (run from its root, as make eval does).
const defaultDataset = "registry/search/testdata/eval"

func searchEvalCmd(fs *flag.FlagSet) runFunc {
	dataset := fs.String("dataset", defaultDataset, "`DIR` holding corpus.json and queries.json (format: its README)")
	minNDCG := fs.Float64("min-ndcg", 0, "fail when the overall NDCG@10 is below `X` (0 checks nothing)")
	verbose := fs.Bool("verbose", false, "also list each query's score and results")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("search eval takes no arguments (use --dataset)")
		}
		if *minNDCG < 0 || *minNDCG > 1 {
			return errors.New("--min-ndcg must be between 0 and 1")
		}
		ds, err := eval.Load(*dataset)
		if err == nil {
			var rep *eval.Report
			if rep, err = evaluate(ctx, ds, c.stderr); err == nil {
				return c.printEval(rep, *verbose, *minNDCG)
			}
		}
		switch {
		case errors.Is(err, iofs.ErrNotExist) && *dataset == defaultDataset:
			c.report("", err)
			fmt.Fprintln(c.stderr, "hint: the default dataset is relative to the repository root: run mcpctl there, or pass --dataset DIR")
			return errReported
		case errors.Is(err, eval.ErrDataset):
			// The message names every broken query or corpus object, one per line; report would show only the
			// first object's field errors, without saying which object they belong to.
			for line := range strings.SplitSeq(err.Error(), "\n") {
				fmt.Fprintln(c.stderr, "error: "+clean(line))
			}
			return errReported
		}
		return err
	}
}

// printEval prints the report and fails when the overall NDCG@10 is below minNDCG.
func (c *cli) printEval(rep *eval.Report, verbose bool, minNDCG float64) error {
	var err error
	switch {
	case c.output != outTable:
		if !verbose {
			for i := range rep.PerQuery {
				rep.PerQuery[i].Hits = nil
			}
		}
		err = c.printValue(rep)
	default:
		err = rep.WriteTable(c.stdout)
		if err == nil && verbose {
			err = writeQueryScores(c.stdout, rep)
		}
	}
	if err != nil {
		return err
	}
	if minNDCG > 0 && rep.Overall.NDCG < minNDCG {
		return fmt.Errorf("overall NDCG@10 %.3f is below --min-ndcg %.3f", rep.Overall.NDCG, minNDCG)
	}
	return nil
}

func writeQueryScores(w io.Writer, rep *eval.Report) error {
	var b strings.Builder
	b.WriteString("\n| id | category | NDCG@10 | RR | top results |\n|---|---|---:|---:|---|\n")
	for _, q := range rep.PerQuery {
		var top []string
		for i, h := range q.Hits {
			if i == 3 {
				break
			}
			top = append(top, h.Type+" "+h.Name)
		}
		fmt.Fprintf(&b, "| %s | %s | %.3f | %.3f | %s |\n", q.ID, q.Category, q.NDCG, q.RR, clean(strings.Join(top, ", ")))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// evaluate starts a fresh registry in process, registers the corpus through the REST API as an admin, waits until
// every asset has its vectors, and asks every query through GET /api/v1/search: the same path users take.
func evaluate(ctx context.Context, ds *eval.Dataset, stderr io.Writer) (*eval.Report, error) {
	objs, err := ds.Corpus.Objects()
	if err != nil {
		return nil, err
	}
	reg, err := startRegistry(ctx, stderr)
	if err != nil {
		return nil, fmt.Errorf("search eval: %w", err)
	}
	defer reg.stop()
	for _, o := range objs {
		if _, err := reg.client.Do(ctx, http.MethodPost, "/api/v1/"+collectionPath(o.Kind()), o, nil); err != nil {
			return nil, fmt.Errorf("search eval: register %s %s: %w", o.Kind(), o.Key(), err)
		}
	}
	if err := reg.app.Search.Flush(ctx); err != nil {
		return nil, fmt.Errorf("search eval: %w", err)
	}
	return eval.Run(ctx, ds, func(ctx context.Context, q string) ([]eval.Hit, error) {
		var res searchResults
		path := "/api/v1/search?" + url.Values{"q": {q}, "limit": {strconv.Itoa(eval.Cutoff)}}.Encode()
		if _, err := reg.client.Do(ctx, http.MethodGet, path, nil, &res); err != nil {
			return nil, err
		}
		hits := make([]eval.Hit, len(res.Results))
		for i, r := range res.Results {
			hits[i] = eval.Hit{Type: string(r.Type), Name: r.Name}
		}
		return hits, nil
	})
}

// registry is a fresh in-process registry on a loopback port, with an admin client.
type registry struct {
	app    *app.App
	url    string
	token  string
	client *client.Client
	stop   func()
}

// startRegistry runs a registry on an embedded store in a temporary directory, with the default policy, the
// development issuer, the builtin embedder and no gateway. Every setting is given explicitly, so no MCPGW_* variable
// of the caller's environment leaks in.
func startRegistry(ctx context.Context, stderr io.Writer) (*registry, error) {
	dir, err := os.MkdirTemp("", "mcpctl-search-")
	if err != nil {
		return nil, err
	}
	var cfg app.Config
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.Register(fs)
	if err := app.Parse(fs, []string{"--data-dir", dir, "--mongodb-uri=", "--http-addr=", "--gateway=false",
		"--identity-config=", "--policy-dir=", "--public-url", "http://127.0.0.1", "--log-level", "error",
		"--feed-interval", "50ms"}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	a, err := app.New(ctx, &cfg, app.Parts{Registry: true}, log)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start registry: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ran := make(chan error, 1)
	go func() { ran <- a.Run(runCtx) }()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		if rerr := <-ran; rerr != nil {
			err = errors.Join(err, rerr)
		}
		_ = os.RemoveAll(dir)
		return nil, err
	}
	hs := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }()
	r := &registry{app: a, url: "http://" + l.Addr().String(), stop: func() {
		_ = hs.Close()
		cancel()
		if err := <-ran; err != nil {
			log.Error("the in-process registry stopped with an error", "err", err)
		}
		_ = os.RemoveAll(dir)
	}}
	if r.token, err = a.Dev.Issue("mcpctl-search", []string{policy.DefaultAdminGroup}, time.Hour); err == nil {
		r.client, err = client.New(r.url, client.WithToken(r.token))
	}
	if err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

// collectionPath is where objects of a corpus kind are registered.
func collectionPath(k catalog.Kind) string {
	switch k {
	case catalog.KindServer:
		return "servers"
	case catalog.KindAgent:
		return "agents"
	}
	return "skills"
}
