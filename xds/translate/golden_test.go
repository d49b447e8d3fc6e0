package translate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/xds/ir"
	"github.com/mcpgw/mcpgw/xds/translate"
)

var update = flag.Bool("update", false, "rewrite testdata/out from the current translator")

// goldenCase is a testdata/in/*.yaml file: catalog objects as the registry stores them, the fleet to translate
// for, and option overrides.
type goldenCase struct {
	Fleet   string `yaml:"fleet"`
	Options struct {
		MCPFilter         bool   `yaml:"mcp_filter"`
		AccessLogCluster  string `yaml:"access_log_cluster"`
		ListenerPort      uint32 `yaml:"listener_port"`
		MaxStreamDuration string `yaml:"max_stream_duration"`
	} `yaml:"options"`
	Servers  []any `yaml:"servers"`
	Virtuals []any `yaml:"virtual_servers"`
}

// decodeVia converts YAML-decoded data into a catalog type through its JSON tags, as the registry API would.
func decodeVia[T any](t *testing.T, in any) *T {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return out
}

func loadCase(t *testing.T, path string) (*ir.Gateway, translate.Options) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c goldenCase
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	var servers []*catalog.Server
	for _, s := range c.Servers {
		cs := decodeVia[catalog.Server](t, s)
		cs.Normalize()
		if err := cs.Validate(); err != nil {
			t.Fatalf("testdata server %s is not a valid catalog server: %v", cs.Name, err)
		}
		servers = append(servers, cs)
	}
	var virtuals []*catalog.VirtualServer
	for _, v := range c.Virtuals {
		cv := decodeVia[catalog.VirtualServer](t, v)
		cv.Normalize()
		if err := cv.Validate(); err != nil {
			t.Fatalf("testdata virtual server %s is not valid: %v", cv.Name, err)
		}
		virtuals = append(virtuals, cv)
	}
	m, errs := ir.FromCatalog(servers, virtuals)
	if len(errs) > 0 {
		t.Fatalf("testdata does not convert: %v", errors.Join(errs...))
	}
	o := translate.DefaultOptions()
	o.MCPFilter = c.Options.MCPFilter
	o.AccessLogCluster = c.Options.AccessLogCluster
	if c.Options.ListenerPort != 0 {
		o.ListenerPort = c.Options.ListenerPort
	}
	if c.Options.MaxStreamDuration != "" {
		if o.MaxStreamDuration, err = time.ParseDuration(c.Options.MaxStreamDuration); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	fleet := c.Fleet
	if fleet == "" {
		fleet = ir.DefaultFleet
	}
	return m.Gateway(fleet), o
}

// toYAML renders resources as YAML through their canonical JSON mapping; yaml.v3 sorts map keys, so the text is
// stable across runs and protobuf versions.
func toYAML[M proto.Message](t *testing.T, msgs []M) []byte {
	t.Helper()
	docs := make([]any, 0, len(msgs))
	for _, m := range msgs {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, v)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(docs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type validator interface{ ValidateAll() error }

func validateAll[M proto.Message](t *testing.T, msgs []M) {
	t.Helper()
	for _, m := range msgs {
		if err := any(m).(validator).ValidateAll(); err != nil {
			t.Errorf("%T fails ValidateAll: %v", m, err)
		}
	}
}

func TestGolden(t *testing.T) {
	// Invariant: translating each testdata/in case yields exactly testdata/out/<case>.<type>.yaml (one file per
	// resource type the fleet receives, none for a type it does not), and every resource passes ValidateAll.
	// Run with -update to rewrite the outputs after an intended change; make gen-check fails on any diff.
	inputs, err := filepath.Glob(filepath.Join("testdata", "in", "*.yaml"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			g, o := loadCase(t, in)
			tr, err := translate.New(o)
			if err != nil {
				t.Fatal(err)
			}
			res, err := tr.Gateway(g)
			if err != nil {
				t.Fatal(err)
			}
			validateAll(t, res.Listeners)
			validateAll(t, res.Routes)
			validateAll(t, res.Clusters)
			validateAll(t, res.Endpoints)
			outputs := map[string][]byte{}
			add := func(typ string, n int, text []byte) {
				if n > 0 {
					outputs[filepath.Join("testdata", "out", name+"."+typ+".yaml")] = text
				}
			}
			add("listener", len(res.Listeners), toYAML(t, res.Listeners))
			add("route", len(res.Routes), toYAML(t, res.Routes))
			add("cluster", len(res.Clusters), toYAML(t, res.Clusters))
			add("endpoint", len(res.Endpoints), toYAML(t, res.Endpoints))
			existing, _ := filepath.Glob(filepath.Join("testdata", "out", name+".*.yaml"))
			if *update {
				for _, f := range existing {
					if _, ok := outputs[f]; !ok {
						if err := os.Remove(f); err != nil {
							t.Fatal(err)
						}
					}
				}
				for f, text := range outputs {
					if err := os.WriteFile(f, text, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			for _, f := range existing {
				if _, ok := outputs[f]; !ok {
					t.Errorf("%s exists but the fleet receives no such resources (run with -update)", f)
				}
			}
			files := make([]string, 0, len(outputs))
			for f := range outputs {
				files = append(files, f)
			}
			slices.Sort(files)
			for _, f := range files {
				want, err := os.ReadFile(f)
				if err != nil {
					t.Errorf("read %s: %v (run with -update)", f, err)
					continue
				}
				if diff := cmp.Diff(string(want), string(outputs[f])); diff != "" {
					t.Errorf("%s differs (-want +got; run with -update if intended):\n%s", f, diff)
				}
			}
		})
	}
}
