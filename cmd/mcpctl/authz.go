package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/mcpgw/mcpgw/authz/policy"
)

// authzCommand is "authz explain": why the policy allows or denies a gateway call.
func authzCommand() *command {
	return &command{name: "authz", summary: "inspect authorization decisions", subs: []*command{
		{name: "explain", summary: "show which rule allows or denies a gateway call, and why", setup: authzExplainCmd},
	}}
}

type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

func authzExplainCmd(fs *flag.FlagSet) runFunc {
	var req struct {
		Principal *policy.Principal `json:"principal,omitempty"`
		Target    policy.Target     `json:"target"`
		MCP       policy.MCP        `json:"mcp"`
	}
	var p policy.Principal
	var groups, scopes stringList
	fs.StringVar(&req.Target.Server, "target", "", "the server `NAMESPACE/NAME` (or virtual server name) called (required)")
	fs.StringVar(&req.Target.Kind, "kind", "server", "target `KIND`: server or virtual")
	fs.StringVar(&req.Target.Version, "target-version", "", "the server `VERSION` called (default: its default version)")
	fs.StringVar(&req.MCP.Method, "method", "tools/call", "the MCP `METHOD`")
	fs.StringVar(&req.MCP.Name, "tool", "", "the tool, prompt or resource `NAME`")
	args := fs.String("arguments", "", "the call's arguments as a JSON `OBJECT`")
	fs.StringVar(&p.Subject, "as-subject", "", "explain for this `SUBJECT` instead of the token's caller (admins only)")
	fs.StringVar(&p.Issuer, "as-issuer", "", "the `ISSUER` of the principal given with --as-*")
	fs.StringVar(&p.ClientID, "as-client", "", "explain for this OAuth client `ID` (admins only)")
	fs.Var(&groups, "as-groups", "comma-separated `GROUPS` of the principal given with --as-*")
	fs.Var(&scopes, "as-scopes", "comma-separated token `SCOPES` of the principal given with --as-*")
	return func(ctx context.Context, c *cli, rest []string) error {
		if len(rest) > 0 {
			return fmt.Errorf("authz explain takes no arguments; use flags")
		}
		if req.Target.Server == "" {
			return fmt.Errorf("--target is required")
		}
		if *args != "" {
			if err := json.Unmarshal([]byte(*args), &req.MCP.Arguments); err != nil || req.MCP.Arguments == nil {
				return fmt.Errorf("--arguments must be a JSON object")
			}
		}
		if p.Subject != "" || p.ClientID != "" || p.Issuer != "" || len(groups) > 0 || len(scopes) > 0 {
			p.Groups, p.Scopes = groups, scopes
			req.Principal = &p
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		var ex policy.Explanation
		if _, err := cl.Do(ctx, http.MethodPost, "/api/v1/authz/explain", req, &ex); err != nil {
			return err
		}
		if c.output != outTable {
			return c.printValue(ex)
		}
		return printExplanation(c.stdout, ex)
	}
}

// printExplanation renders an explanation for a person: the verdict first, then the scopes and the grants.
func printExplanation(w io.Writer, ex policy.Explanation) error {
	d := ex.Decision
	verdict := "DENY"
	if d.Allow {
		verdict = "ALLOW"
	}
	fmt.Fprintf(w, "%s (%d) by rule %q: %s\n", verdict, d.Status, d.Rule, d.Reason)
	if ex.Admin {
		fmt.Fprintln(w, "The caller holds the admin scope.")
	}
	if len(ex.ScopeSources) > 0 {
		fmt.Fprintln(w, "\nScopes:")
		rows := make([][]string, len(ex.ScopeSources))
		for i, s := range ex.ScopeSources {
			from := s.Group + s.Client
			if s.Issuer != "" {
				from += " (issuer " + s.Issuer + ")"
			}
			rows[i] = []string{s.Scope, s.Source, from}
		}
		if err := writeTable(w, []string{"SCOPE", "FROM", "VIA"}, rows); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(w, "\nThe caller holds no scope.")
	}
	if len(ex.Grants) > 0 {
		fmt.Fprintln(w, "\nGrants checked:")
		rows := make([][]string, len(ex.Grants))
		for i, g := range ex.Grants {
			res := "no"
			if g.Allows {
				res = "yes"
			}
			rows[i] = []string{fmt.Sprintf("%s[%d]", g.Scope, g.Index), g.Kind + " " + g.Server,
				strings.Join(g.Methods, ","), strings.Join(g.Tools, ","), strings.Join(g.Failed, ","), res}
		}
		if err := writeTable(w, []string{"GRANT", "ON", "METHODS", "TOOLS", "FAILED", "ALLOWS"}, rows); err != nil {
			return err
		}
	}
	for _, v := range ex.Vetoes {
		fmt.Fprintln(w, "Veto:", v)
	}
	if !d.Allow && len(ex.RequiredScopes) > 0 {
		fmt.Fprintln(w, "\nScopes that would allow it:", strings.Join(ex.RequiredScopes, ", "))
	}
	if len(ex.Trace) > 0 {
		const maxTrace = 40
		fmt.Fprintln(w, "\nPolicy trace (failed expressions):")
		for i, t := range ex.Trace {
			if i == maxTrace {
				fmt.Fprintf(w, "  ... %d more lines (-o json shows the whole trace)\n", len(ex.Trace)-maxTrace)
				break
			}
			fmt.Fprintln(w, "  "+t)
		}
	}
	return nil
}
