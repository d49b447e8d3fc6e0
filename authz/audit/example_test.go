package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mcpgw/mcpgw/authz/audit"
)

// printSink stands in for the store adapter.
type printSink struct{ mu sync.Mutex }

func (s *printSink) InsertAudit(_ context.Context, records []audit.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range records {
		switch r.Kind {
		case audit.KindDecision:
			fmt.Printf("%s %s %s %s %v allow=%v\n", r.Kind, r.Subject, r.Method, r.Tool, r.Arguments, r.Allow)
		case audit.KindMutation:
			fmt.Printf("%s %s %s %s/%s rev %d->%d\n", r.Kind, r.Subject, r.Action, r.Resource, r.Name, r.RevBefore, r.RevAfter)
		}
	}
	return nil
}

func ExampleBatcher() {
	redactor, err := audit.NewRedactor(audit.RedactConfig{
		Rules: []audit.Rule{{Key: "*password*", Action: audit.ActionRemove}, {Key: "api_key", Action: audit.ActionHash}},
		// In production the key comes from a secret; it keeps hashed values correlatable across restarts.
		HashKey: []byte("example-key-of-32-bytes........."),
	})
	if err != nil {
		panic(err)
	}
	b, err := audit.NewBatcher(&printSink{}, audit.BatcherConfig{FlushInterval: time.Hour, Redactor: redactor},
		slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.Run(ctx) }()

	// ext_authz, on every Check: never waits.
	b.Submit(audit.Record{Kind: audit.KindDecision, Subject: "alice", Server: "io.example/db", Method: "tools/call",
		Tool: "query", Arguments: map[string]any{"sql": "select 1", "db_password": "hunter2"}, Allow: true})
	// The registry, after a change.
	b.Submit(audit.Record{Kind: audit.KindMutation, Subject: "bob", Action: audit.ActionUpdate, Resource: "servers",
		Name: "io.example/db", RevBefore: 41, RevAfter: 57, Allow: true})

	cancel() // shutdown drains the buffer
	fmt.Println(<-done, b.Stats().Written)
	// Output:
	// decision alice tools/call query map[sql:select 1] allow=true
	// mutation bob update servers/io.example/db rev 41->57
	// <nil> 2
}
