package eval

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// Synthetic builds a catalog of the given size for benchmarks and load tests: servers with three to eight tools,
// agents with two to five card skills and skills with a SKILL.md body, all described in varied enterprise English
// drawn from fixed word lists with a seeded generator, so runs are repeatable. Names are unique. The objects are
// normalised and valid.
func Synthetic(servers, agents, skills int, seed uint64) []catalog.Object {
	g := &synth{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	var out []catalog.Object
	for i := range servers {
		out = append(out, g.server(i))
	}
	for i := range agents {
		out = append(out, g.agent(i))
	}
	for i := range skills {
		out = append(out, g.skill(i))
	}
	for _, o := range out {
		o.Normalize()
	}
	return out
}

// SyntheticQueries returns n queries in the style of the synthetic catalog: keywords, tool-like requests and
// sentences, some with a typo.
func SyntheticQueries(n int, seed uint64) []string {
	g := &synth{r: rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))}
	out := make([]string, n)
	for i := range out {
		switch i % 5 {
		case 0:
			out[i] = g.pick(verbs) + " " + g.pick(objects)
		case 1:
			out[i] = g.pick(domains) + " " + g.pick(objects)
		case 2:
			out[i] = fmt.Sprintf("I need to %s the %s for the %s team", g.pick(verbs), g.pick(objects), g.pick(teams))
		case 3:
			out[i] = typo(g.r, g.pick(objects)) + " " + g.pick(verbs)
		default:
			out[i] = fmt.Sprintf("agent that can %s %s and %s %s", g.pick(verbs), g.pick(objects), g.pick(verbs),
				g.pick(objects))
		}
	}
	return out
}

type synth struct{ r *rand.Rand }

func (g *synth) pick(list []string) string { return list[g.r.IntN(len(list))] }

var (
	teams   = []string{"finance", "platform", "security", "data", "hr", "sales", "support", "legal", "ops", "marketing", "logistics", "clinical", "claims", "identity", "facilities", "procurement"}
	domains = []string{"billing", "payroll", "shipment", "warehouse", "incident", "deployment", "customer", "contract", "invoice", "ticket", "patient", "claim", "inventory", "expense", "vendor", "network", "database", "cluster", "document", "campaign", "lead", "order", "policy", "audit", "identity", "schedule", "fleet", "pricing", "forecast", "compliance"}
	verbs   = []string{"list", "search", "create", "update", "approve", "cancel", "export", "import", "sync", "reconcile", "schedule", "notify", "summarize", "validate", "route", "escalate", "archive", "restore", "rotate", "assign", "track", "estimate", "classify", "translate", "review"}
	objects = []string{"invoices", "payments", "shipments", "orders", "tickets", "alerts", "reports", "accounts", "contracts", "records", "credentials", "certificates", "dashboards", "pipelines", "backups", "releases", "timesheets", "purchase orders", "refunds", "appointments", "claims", "policies", "leads", "quotes", "logs", "metrics", "traces", "secrets", "users", "groups"}
	adjs    = []string{"monthly", "overdue", "pending", "regional", "internal", "customer-facing", "critical", "archived", "draft", "approved", "failed", "duplicate", "recurring", "high-value", "open"}
	nouns   = []string{"ledger", "queue", "portal", "gateway", "registry", "workflow", "catalog", "calendar", "tracker", "hub", "console", "desk", "engine", "store", "bridge"}
)

func (g *synth) name(i int, kind string) string {
	return fmt.Sprintf("%s/%s-%s-%s-%04d", g.pick(teams), g.pick(domains), g.pick(nouns), kind, i)
}

func (g *synth) sentence() string {
	return fmt.Sprintf("%s %s %s for the %s team", capitalize(g.pick(verbs)), g.pick(adjs), g.pick(objects), g.pick(teams))
}

func (g *synth) description() string {
	n := 2 + g.r.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = g.sentence()
	}
	return strings.Join(parts, ". ") + "."
}

func (g *synth) tags() []string {
	return []string{g.pick(domains), g.pick(teams), g.pick(nouns)}
}

func (g *synth) server(i int) catalog.Object {
	dom, noun := g.pick(domains), g.pick(nouns)
	v := catalog.ServerVersion{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP,
		URL: fmt.Sprintf("http://127.0.0.1:9/mcp/%d", i)}
	seen := map[string]bool{}
	for range 3 + g.r.IntN(6) {
		verb, obj := g.pick(verbs), g.pick(objects)
		tool := verb + "_" + strings.ReplaceAll(obj, " ", "_")
		if seen[tool] {
			continue
		}
		seen[tool] = true
		v.Tools = append(v.Tools, catalog.Tool{Name: tool, Description: fmt.Sprintf("%s %s %s in the %s %s.",
			capitalize(verb), g.pick(adjs), obj, dom, noun)})
	}
	return &catalog.Server{Name: g.name(i, "mcp"), Governance: catalog.Governance{Title: capitalize(dom) + " " + noun,
		Description: g.description(), Tags: g.tags(), Visibility: catalog.VisibilityPublic},
		Versions: []catalog.ServerVersion{v}}
}

func (g *synth) agent(i int) catalog.Object {
	name := g.name(i, "agent")
	card := catalog.AgentCard{Name: capitalize(g.pick(domains)) + " assistant", Description: g.description(),
		URL: fmt.Sprintf("https://agents.example.com/%d", i), Version: "1.0.0"}
	for k := range 2 + g.r.IntN(4) {
		verb, obj := g.pick(verbs), g.pick(objects)
		card.Skills = append(card.Skills, catalog.AgentSkill{ID: fmt.Sprintf("%s-%s-%d", verb, strings.ReplaceAll(obj, " ", "-"), k),
			Name: capitalize(verb) + " " + obj, Description: g.sentence() + "."})
	}
	return &catalog.Agent{Name: name, Governance: catalog.Governance{Description: card.Description, Tags: g.tags(),
		Visibility: catalog.VisibilityPublic}, Card: card}
}

func (g *synth) skill(i int) catalog.Object {
	name := g.name(i, "skill")
	_, slug, _ := strings.Cut(name, "/")
	desc := g.sentence() + "."
	var body strings.Builder
	for k := range 3 + g.r.IntN(5) {
		fmt.Fprintf(&body, "%d. %s.\n", k+1, g.sentence())
	}
	content := fmt.Sprintf("---\nname: %s\ndescription: %s\n---\n# %s\n%s", slug, desc, capitalize(g.pick(domains)), body.String())
	return &catalog.Skill{Name: name, Governance: catalog.Governance{Description: desc, Tags: g.tags(),
		Visibility: catalog.VisibilityPublic}, Content: content}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// typo drops or swaps one letter of a word of five letters or more.
func typo(r *rand.Rand, w string) string {
	if len(w) < 5 {
		return w
	}
	i := 1 + r.IntN(len(w)-3)
	if r.IntN(2) == 0 {
		return w[:i] + w[i+1:]
	}
	return w[:i] + string(w[i+1]) + string(w[i]) + w[i+2:]
}
