package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/registry/client"
)

// auditCommand is "audit list": the registry's audit trail, newest first (admins only).
func auditCommand() *command {
	return &command{name: "audit", summary: "read the audit trail (admins only)", subs: []*command{
		{name: "list", summary: "list audit records, newest first", setup: auditListCmd},
	}}
}

func auditTable() table[audit.Record] {
	return table[audit.Record]{
		columns: []string{"TIME", "KIND", "WHO", "ACTION", "TARGET", "RESULT", "REASON"},
		row: func(r audit.Record) []string {
			who := r.Subject
			if r.Client != "" && r.Client != r.Subject {
				who = r.Subject + " (" + r.Client + ")"
				if r.Subject == "" {
					who = r.Client
				}
			}
			action, target := r.Action, r.Resource+"/"+r.Name
			if r.Kind == audit.KindDecision {
				action, target = r.Method, r.Server
				if r.Version != "" {
					target += "@" + r.Version
				}
				if r.Tool != "" {
					target += " " + r.Tool
				}
			}
			result := "deny"
			if r.Allow {
				result = "allow"
			}
			return []string{r.Time.UTC().Format(time.RFC3339), string(r.Kind), who, action, target, result, r.Reason}
		},
	}
}

func auditListCmd(fs *flag.FlagSet) runFunc {
	var q client.AuditQuery
	var kind, from, to string
	fs.StringVar(&q.Subject, "subject", "", "only records of `SUBJECT` (a token's sub)")
	fs.StringVar(&q.Client, "client", "", "only records of OAuth client `ID`")
	// The registry matches server and tool against gateway decisions only: a catalog change to a server is found by
	// --kind mutation and its name in the TARGET column, not by --server-name.
	fs.StringVar(&q.Server, "server-name", "", "only gateway decisions on server `NAMESPACE/NAME` (or virtual server NAME)")
	fs.StringVar(&q.Tool, "tool", "", "only gateway decisions on `TOOL` (tool, prompt or resource name)")
	fs.StringVar(&kind, "kind", "", "only `KIND` records: decision (gateway calls) or mutation (catalog changes)")
	fs.StringVar(&q.Decision, "decision", "", "only `allow` or deny records")
	fs.StringVar(&from, "from", "", "only records at or after `TIME` (RFC 3339)")
	fs.StringVar(&to, "to", "", "only records before `TIME` (RFC 3339)")
	since := fs.Duration("since", 0, "only records of the last `DURATION`, e.g. 24h (instead of --from)")
	limit := fs.Int("limit", 100, "show at most `N` records (0: all)")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("audit list takes no arguments; filter with flags")
		}
		if *limit < 0 {
			return fmt.Errorf("--limit must not be negative")
		}
		if *since < 0 {
			return fmt.Errorf("--since must be a positive duration such as 24h (it counts back from now)")
		}
		if *since > 0 && from != "" {
			return fmt.Errorf("use --since or --from, not both")
		}
		q.Kind = audit.Kind(kind)
		for _, t := range []struct {
			flag, raw string
			dst       *time.Time
		}{{"from", from, &q.From}, {"to", to, &q.To}} {
			if t.raw == "" {
				continue
			}
			v, err := time.Parse(time.RFC3339Nano, t.raw)
			if err != nil {
				return fmt.Errorf("--%s %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", t.flag, t.raw)
			}
			*t.dst = v
		}
		if *since > 0 {
			q.From = time.Now().Add(-*since)
		}
		q.Limit = 500
		if *limit > 0 && *limit < q.Limit {
			q.Limit = *limit
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		recs, err := collect(cl.AllAudit(ctx, q), *limit)
		if err != nil {
			return err
		}
		return printItems(c, auditTable(), recs, "audit records")
	}
}
