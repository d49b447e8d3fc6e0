package extauthz

import (
	"time"

	"github.com/mcpgw/mcpgw/authz/audit"
)

// submit hands one record per message (one for a request without messages) to the Auditor; every record of the
// Check shares its decision id and latency. The Auditor never blocks, and a dropped record is its to count.
func (s *Server) submit(c *check) {
	latency := time.Since(c.start)
	for i, o := range c.outcomes {
		s.auditor.Submit(c.record(i, o, latency))
	}
}

// record builds the audit record of outcome i.
func (c *check) record(i int, o outcome, latency time.Duration) audit.Record {
	rec := audit.Record{
		Kind:       audit.KindDecision,
		Time:       c.start,
		DecisionID: c.decisionID,
		RequestID:  c.requestID,
		TargetKind: c.target.Kind,
		Server:     c.target.Server,
		Version:    c.route.Version,
		Allow:      o.allow,
		Reason:     o.reason,
		Rule:       o.rule,
		Arguments:  o.args,
		Latency:    latency,
	}
	if c.authed {
		p := c.principal
		rec.Subject, rec.Client, rec.Groups, rec.Issuer = p.Subject, client(p), p.Groups, p.Issuer
	}
	if c.req != nil && i < len(c.req.Messages) {
		m := &c.req.Messages[i]
		rec.Method, rec.Tool = m.Method, m.Name
	}
	return rec
}
