package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"iter"
	"strings"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client"
)

// kind describes one catalog collection to the commands: how to reach it and how to show its objects.
type kind[T catalog.Object] struct {
	// name is the command and the plural in messages ("servers", "group-mappings"); singular names one object.
	name, singular string
	id             catalog.Kind
	// nameArg is the synopsis of the argument that names an object.
	nameArg string
	// namespaced kinds take --namespace on list.
	namespaced bool
	// collection returns the collection that list, get and delete address, from the kind's flags.
	collection func(c *client.Client, f *kindFlags) (*client.Collection[T], error)
	// forDoc returns the collection a document is written to (an entity's type, a mapping's issuer); nil means
	// collection.
	forDoc func(c *client.Client, f *kindFlags, obj T) (*client.Collection[T], error)
	// address is the name that addresses obj in its collection (the key, an entity's name, a mapping's group).
	address func(T) string
	// describe names obj in messages; nil means address.
	describe func(T) string
	// explainEmpty, when set, is asked why a listing came back empty; an error it returns replaces "No ... found."
	// (entities of a type that does not exist: the API lists them as an empty collection).
	explainEmpty func(ctx context.Context, c *client.Client, f *kindFlags) error
	// flags declares the kind's own flags (--type, --issuer) for a verb; nil for none.
	flags func(fs *flag.FlagSet, f *kindFlags, verb string)
	table table[T]
}

// kindFlags are the flags some kinds add to their verbs.
type kindFlags struct {
	typ, issuer string
}

// plural names the kind in prose: "entity types".
func (k kind[T]) plural() string { return strings.ReplaceAll(k.name, "-", " ") }

func (k kind[T]) label(obj T) string {
	if k.describe != nil {
		return k.describe(obj)
	}
	return k.address(obj)
}

// open connects to the registry and returns the collection the kind's flags address.
func (k kind[T]) open(c *cli, f *kindFlags) (*client.Collection[T], error) {
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	return k.collection(cl, f)
}

func (k kind[T]) docCollection(c *client.Client, f *kindFlags, obj T) (*client.Collection[T], error) {
	if k.forDoc != nil {
		return k.forDoc(c, f, obj)
	}
	return k.collection(c, f)
}

// resourceCommand builds the verbs of one kind: list, get, register, apply and delete, plus extra subcommands.
func resourceCommand[T catalog.Object](k kind[T], extra ...*command) *command {
	subs := []*command{
		{name: "list", summary: "list the " + k.plural() + " you may see", setup: k.listCmd},
		{name: "get", args: k.nameArg + " [" + k.nameArg + "...]", summary: "show " + k.plural() + " by name", setup: k.getCmd},
		{name: "register", args: "-f FILE", summary: "create the " + k.plural() + " in FILE (JSON or YAML; - for stdin)",
			setup: func(fs *flag.FlagSet) runFunc { return k.writeCmd(fs, false) }},
		{name: "apply", args: "-f FILE", summary: "create the " + k.plural() + " in FILE, or replace those that exist",
			setup: func(fs *flag.FlagSet) runFunc { return k.writeCmd(fs, true) }},
		{name: "delete", args: k.nameArg + " [" + k.nameArg + "...]", summary: "delete " + k.plural() + " by name",
			setup: k.deleteCmd},
	}
	return &command{name: k.name, summary: "manage " + k.plural(), subs: append(subs, extra...)}
}

func (k kind[T]) kindFlags(fs *flag.FlagSet, verb string) *kindFlags {
	f := &kindFlags{}
	if k.flags != nil {
		k.flags(fs, f, verb)
	}
	return f
}

func (k kind[T]) listCmd(fs *flag.FlagSet) runFunc {
	f := k.kindFlags(fs, "list")
	var opts client.ListOptions
	var status string
	fs.StringVar(&opts.Tag, "tag", "", "only those carrying `TAG`")
	fs.StringVar(&status, "status", "", "only those in `STATUS`: enabled, disabled, security-pending or deprecated")
	if k.namespaced {
		fs.StringVar(&opts.Namespace, "namespace", "", "only those in `NAMESPACE`")
	}
	fs.StringVar(&opts.Q, "q", "", "only those whose name, title or description contains `TEXT` (any case)")
	limit := fs.Int("limit", 0, "show at most `N` (0: all)")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("list takes no arguments; filter with flags")
		}
		if *limit < 0 {
			return fmt.Errorf("--limit must not be negative")
		}
		opts.Status = catalog.Status(status)
		cl, err := c.client()
		if err != nil {
			return err
		}
		col, err := k.collection(cl, f)
		if err != nil {
			return err
		}
		items, err := collect(col.All(ctx, withPageSize(opts, *limit)), *limit)
		if err != nil {
			return err
		}
		if len(items) == 0 && k.explainEmpty != nil {
			if err := k.explainEmpty(ctx, cl, f); err != nil {
				return err
			}
		}
		return printItems(c, k.table, items, k.plural())
	}
}

// withPageSize asks for pages no larger than needed.
func withPageSize(o client.ListOptions, limit int) client.ListOptions {
	o.Limit = 200
	if limit > 0 && limit < o.Limit {
		o.Limit = limit
	}
	return o
}

// collect gathers at most limit items (all when limit is 0) from an iterator.
func collect[T any](seq iter.Seq2[T, error], limit int) ([]T, error) {
	var out []T
	for it, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, it)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

func (k kind[T]) getCmd(fs *flag.FlagSet) runFunc {
	f := k.kindFlags(fs, "get")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("get needs at least one %s", k.nameArg)
		}
		col, err := k.open(c, f)
		if err != nil {
			return err
		}
		items := make([]T, 0, len(args))
		for _, name := range args {
			obj, err := col.Get(ctx, name)
			if err != nil {
				if len(args) > 1 {
					// report prints a registry problem as title, status and detail, so the name goes in its
					// prefix; wrapping err would lose it.
					c.report(k.singular+" "+name+": ", err)
					return errReported
				}
				return err
			}
			items = append(items, obj)
		}
		if len(items) == 1 && c.output != outTable {
			return c.printValue(items[0])
		}
		return printItems(c, k.table, items, k.plural())
	}
}

func (k kind[T]) deleteCmd(fs *flag.FlagSet) runFunc {
	f := k.kindFlags(fs, "delete")
	rev := fs.Int64("rev", 0, "delete only if the object is still at revision `REV` (its ETag)")
	ignoreMissing := fs.Bool("ignore-not-found", false, "succeed when an object does not exist")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("delete needs at least one %s", k.nameArg)
		}
		if *rev != 0 && len(args) > 1 {
			return fmt.Errorf("--rev applies to one object; name only one")
		}
		col, err := k.open(c, f)
		if err != nil {
			return err
		}
		failed := 0
		for _, name := range args {
			err := col.Delete(ctx, name, *rev)
			switch {
			case err == nil:
				fmt.Fprintf(c.stdout, "%s %s deleted\n", k.singular, clean(name))
			case *ignoreMissing && errors.Is(err, catalog.ErrNotFound):
			default:
				failed++
				prefix := ""
				if len(args) > 1 {
					prefix = k.singular + " " + name + ": "
				}
				c.report(prefix, err)
			}
		}
		return summarize(c, failed, len(args), "objects")
	}
}

// summarize ends a command that handled several objects: nil when all succeeded, errReported (with a count when
// there were several) when some failed; each failure has been printed already.
func summarize(c *cli, failed, total int, what string) error {
	if failed == 0 {
		return nil
	}
	if total > 1 {
		fmt.Fprintf(c.stderr, "error: %d of %d %s failed\n", failed, total, what)
	}
	return errReported
}

func (k kind[T]) writeCmd(fs *flag.FlagSet, apply bool) runFunc {
	verb := "register"
	if apply {
		verb = "apply"
	}
	f := k.kindFlags(fs, verb)
	var file string
	fs.StringVar(&file, "f", "", "read the objects from `FILE` (JSON or YAML; - for stdin)")
	fs.StringVar(&file, "filename", "", "`FILE`, same as -f")
	return func(ctx context.Context, c *cli, args []string) error {
		if file == "" {
			return fmt.Errorf("%s needs -f FILE", verb)
		}
		if len(args) > 0 {
			return fmt.Errorf("%s takes no arguments; name the objects in the file", verb)
		}
		docs, err := c.readFile(file)
		if err != nil {
			return err
		}
		cl, err := c.client()
		if err != nil {
			return err
		}
		return k.write(ctx, c, cl, f, docs, apply)
	}
}

// write creates (and with apply, replaces) each document's object, reporting each failure and carrying on.
func (k kind[T]) write(ctx context.Context, c *cli, cl *client.Client, f *kindFlags, docs []document, apply bool) error {
	var done []T
	failed := 0
	for _, d := range docs {
		// The document goes to the registry as it is; decoding it here only finds its name and collection, so
		// leniently: the registry reports every problem with it.
		obj := catalog.New(k.id).(T)
		_ = json.Unmarshal(d.JSON, obj)
		out, what, err := k.writeOne(ctx, cl, f, obj, d.JSON, apply)
		if err != nil {
			failed++
			prefix := ""
			if len(docs) > 1 {
				prefix = d.Where + ": "
				if name := k.label(obj); name != "" {
					prefix = d.Where + " (" + k.singular + " " + name + "): "
				}
			}
			c.report(prefix, err)
			if apply && errors.Is(err, catalog.ErrRevMismatch) && obj.Metadata().Rev > 0 {
				fmt.Fprintf(c.stderr, "hint: the document carries rev %d; read the object again, or remove rev to replace it whatever its revision\n",
					obj.Metadata().Rev)
			}
			continue
		}
		done = append(done, out)
		if c.output == outTable {
			fmt.Fprintf(c.stdout, "%s %s %s (rev %d)\n", k.singular, clean(k.label(out)), what, out.Metadata().Rev)
		}
	}
	if c.output != outTable && len(done) > 0 {
		var err error
		if len(docs) == 1 {
			err = c.printValue(done[0])
		} else {
			err = c.printValue(done)
		}
		if err != nil {
			return err
		}
	}
	return summarize(c, failed, len(docs), "documents")
}

func (k kind[T]) writeOne(ctx context.Context, cl *client.Client, f *kindFlags, obj T, doc json.RawMessage, apply bool) (T, string, error) {
	var zero T
	col, err := k.docCollection(cl, f, obj)
	if err != nil {
		return zero, "", err
	}
	if apply && k.address(obj) != "" {
		// Replace first, and create on 404: a create that meets an existing object still takes a change-feed
		// sequence number, which would leave a gap for every consumer to wait on. The replace is conditional on
		// the rev the document carries (one written by "get -o yaml" does), unconditional without one.
		out, err := col.ReplaceJSON(ctx, k.address(obj), doc, obj.Metadata().Rev)
		if err == nil {
			return out, "replaced", nil
		}
		if !errors.Is(err, catalog.ErrNotFound) {
			return zero, "", err
		}
	}
	out, err := col.CreateJSON(ctx, doc)
	if err != nil {
		return zero, "", err
	}
	return out, "created", nil
}
