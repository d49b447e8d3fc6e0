package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// serverVersionsCommand is "servers versions": the versions sub-resource of one server. Every change rewrites the
// server, so --rev is the server's revision.
func serverVersionsCommand() *command {
	return &command{name: "versions", summary: "manage the versions of a server", subs: []*command{
		{name: "list", args: "NAMESPACE/NAME", summary: "list a server's versions, newest first", setup: versionsListCmd},
		{name: "get", args: "NAMESPACE/NAME VERSION", summary: "show one version", setup: versionsGetCmd},
		{name: "add", args: "NAMESPACE/NAME -f FILE", summary: "add the versions in FILE (JSON or YAML; - for stdin)",
			setup: versionsAddCmd},
		{name: "delete", args: "NAMESPACE/NAME VERSION [VERSION...]", summary: "delete versions (a server keeps at least one)",
			setup: versionsDeleteCmd},
	}}
}

func versionTable() table[catalog.ServerVersion] {
	return table[catalog.ServerVersion]{
		columns: []string{"VERSION", "DEFAULT", "TRANSPORT", "ENDPOINT", "TOOLS", "STATE"},
		row: func(v catalog.ServerVersion) []string {
			def := ""
			if v.Default {
				def = "*"
			}
			endpoint := v.URL
			if v.Launch != nil {
				endpoint = strings.Join(append([]string{v.Launch.Command}, v.Launch.Args...), " ")
			}
			if n := len(v.Endpoints); n > 0 {
				endpoint += fmt.Sprintf(" (+%d)", n)
			}
			state := "active"
			switch {
			case v.Retired:
				state = "retired"
			case v.Deprecated:
				state = "deprecated"
			}
			return []string{v.Version, def, string(v.Transport), endpoint, count(v.Tools), state}
		},
	}
}

func versionsListCmd(*flag.FlagSet) runFunc {
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("versions list needs NAMESPACE/NAME")
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		vs, _, err := cl.ServerVersions(args[0]).List(ctx)
		if err != nil {
			return err
		}
		return printItems(c, versionTable(), vs, "versions")
	}
}

func versionsGetCmd(*flag.FlagSet) runFunc {
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) != 2 {
			return fmt.Errorf("versions get needs NAMESPACE/NAME VERSION")
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		v, _, err := cl.ServerVersions(args[0]).Get(ctx, args[1])
		if err != nil {
			return err
		}
		if c.output != outTable {
			return c.printValue(v)
		}
		return printItems(c, versionTable(), []catalog.ServerVersion{v}, "versions")
	}
}

func versionsAddCmd(fs *flag.FlagSet) runFunc {
	var file string
	fs.StringVar(&file, "f", "", "read the versions from `FILE` (JSON or YAML; - for stdin)")
	fs.StringVar(&file, "filename", "", "`FILE`, same as -f")
	rev := fs.Int64("rev", 0, "add only if the server is still at revision `REV`")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) != 1 || file == "" {
			return fmt.Errorf("versions add needs NAMESPACE/NAME and -f FILE")
		}
		docs, err := c.readFile(file)
		if err != nil {
			return err
		}
		if *rev != 0 && len(docs) > 1 {
			return fmt.Errorf("--rev applies to a file of one version; this one has %d", len(docs))
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		vs := cl.ServerVersions(args[0])
		var added []catalog.ServerVersion
		failed := 0
		for _, d := range docs {
			v, srvRev, err := vs.AddJSON(ctx, d.JSON, *rev)
			if err != nil {
				failed++
				prefix := ""
				if len(docs) > 1 {
					prefix = d.Where + ": "
				}
				c.report(prefix, err)
				continue
			}
			added = append(added, v)
			if c.output == outTable {
				fmt.Fprintf(c.stdout, "server %s version %s added (rev %d)\n", clean(args[0]), clean(v.Version), srvRev)
			}
		}
		if c.output != outTable && len(added) > 0 {
			if len(docs) == 1 {
				return c.printValue(added[0])
			}
			if err := c.printValue(added); err != nil {
				return err
			}
		}
		return summarize(c, failed, len(docs), "versions")
	}
}

func versionsDeleteCmd(fs *flag.FlagSet) runFunc {
	rev := fs.Int64("rev", 0, "delete only if the server is still at revision `REV`")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) < 2 {
			return fmt.Errorf("versions delete needs NAMESPACE/NAME and at least one VERSION")
		}
		if *rev != 0 && len(args) > 2 {
			return fmt.Errorf("--rev applies to one version; name only one")
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		vs := cl.ServerVersions(args[0])
		failed := 0
		for _, v := range args[1:] {
			if err := vs.Delete(ctx, v, *rev); err != nil {
				failed++
				prefix := ""
				if len(args) > 2 {
					prefix = "version " + v + ": "
				}
				c.report(prefix, err)
				continue
			}
			fmt.Fprintf(c.stdout, "server %s version %s deleted\n", clean(args[0]), clean(v))
		}
		return summarize(c, failed, len(args)-1, "versions")
	}
}
