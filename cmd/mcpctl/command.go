package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mcpgw/mcpgw/cmd/internal/version"
)

// command is a node of the command tree: a group of subcommands, or a leaf that runs.
type command struct {
	name    string
	summary string
	// args is the leaf's synopsis after its name and flags, e.g. "NAME [NAME...]".
	args string
	// subs are a group's subcommands, in the order usage lists them.
	subs []*command
	// setup declares a leaf's flags and returns the function that runs it with the positional arguments. It is
	// called once per invocation, so flag values live in the closure.
	setup func(fs *flag.FlagSet) runFunc
	// path is the full command name ("mcpctl servers list"), filled in by rootCommand.
	path string
}

type runFunc func(ctx context.Context, c *cli, args []string) error

// rootCommand is the command tree. The order of the slices is the order of the usage text; new commands (search,
// authz explain) are added here, nothing registers itself.
func rootCommand() *command {
	root := &command{name: "mcpctl", summary: "manage an mcpgw registry", subs: []*command{
		resourceCommand(serverKind(), serverVersionsCommand()),
		resourceCommand(agentKind()),
		resourceCommand(skillKind()),
		resourceCommand(entityKind()),
		resourceCommand(entityTypeKind()),
		resourceCommand(virtualServerKind()),
		resourceCommand(scopeKind()),
		resourceCommand(groupMappingKind()),
		resourceCommand(clientMappingKind()),
		auditCommand(),
		searchCommand(),
		authzCommand(),
		versionCommand(),
	}}
	setPaths(root, "")
	return root
}

func setPaths(cmd *command, parent string) {
	cmd.path = strings.TrimSpace(parent + " " + cmd.name)
	for _, s := range cmd.subs {
		setPaths(s, cmd.path)
	}
}

func versionCommand() *command {
	return &command{name: "version", summary: "print mcpctl's version (contacts no server)",
		setup: func(*flag.FlagSet) runFunc {
			return func(_ context.Context, c *cli, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("version takes no arguments")
				}
				_, err := fmt.Fprintln(c.stdout, "mcpctl", version.String())
				return err
			}
		}}
}

// dispatch walks the command line down the tree and runs the leaf it names.
func (c *cli) dispatch(ctx context.Context, root *command, args []string) error {
	cmd := root
	for {
		if cmd.setup != nil {
			return c.runLeaf(ctx, cmd, args)
		}
		// A group: global flags may come before the subcommand's name.
		fs := newFlagSet(cmd.path)
		c.globalFlags(fs)
		if err := fs.Parse(args); err != nil {
			return c.flagError(cmd, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			c.usage(c.stderr, cmd, nil)
			return usagef(cmd, "%s needs a subcommand", cmd.path)
		}
		name := args[0]
		if name == "help" {
			c.usage(c.stdout, cmd, nil)
			return flag.ErrHelp
		}
		next := cmd.sub(name)
		if next == nil {
			return usagef(cmd, "%s has no subcommand %q", cmd.path, name)
		}
		cmd, args = next, args[1:]
	}
}

func (cmd *command) sub(name string) *command {
	for _, s := range cmd.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

func (c *cli) runLeaf(ctx context.Context, cmd *command, args []string) error {
	fs := newFlagSet(cmd.path)
	run := cmd.setup(fs)
	c.globalFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(c.stdout, cmd, fs)
			return err
		}
		return c.flagError(cmd, err)
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	return run(ctx, c, pos)
}

// newFlagSet returns a flag set that reports errors to its caller instead of printing them.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func (c *cli) flagError(cmd *command, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		c.usage(c.stdout, cmd, nil)
		return err
	}
	return usagef(cmd, "%v", err)
}

// parseInterspersed parses flags anywhere among the positional arguments ("get NAME -o json"), as users expect;
// everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		consumed := len(args) - fs.NArg()
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, fs.Args()...), nil
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// usage prints a command's synopsis, its subcommands or its flags, and the global flags.
func (c *cli) usage(w io.Writer, cmd *command, fs *flag.FlagSet) {
	if cmd.setup != nil {
		fmt.Fprintf(w, "usage: %s [flags] %s\n\n%s\n", cmd.path, cmd.args, cmd.summary)
		if fs == nil {
			fs = newFlagSet(cmd.path)
			cmd.setup(fs)
		}
		printFlags(w, "flags:", fs, func(name string) bool { return !isGlobal(name) })
	} else {
		fmt.Fprintf(w, "usage: %s <command> [flags] [arguments]\n\n%s\n\ncommands:\n", cmd.path, cmd.summary)
		tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		for _, s := range cmd.subs {
			fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
		}
		tw.Flush()
	}
	g := newFlagSet("")
	c.globalFlags(g)
	printFlags(w, "global flags:", g, func(string) bool { return true })
}

func printFlags(w io.Writer, title string, fs *flag.FlagSet, keep func(string) bool) {
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			name = " " + name
		}
		line := "  " + dash + f.Name + name + "\t" + usage
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			line += " (default " + f.DefValue + ")"
		}
		lines = append(lines, line)
	})
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, l := range lines {
		fmt.Fprintln(tw, l)
	}
	tw.Flush()
}
