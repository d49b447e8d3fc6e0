package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Errors a ledger tool reports to its caller (as a tool error, IsError, which the model can read).
var (
	ErrUnknownAccount    = errors.New("unknown account")
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrBadAmount         = errors.New("amount must be positive")
	ErrSameAccount       = errors.New("cannot transfer to the same account")
	ErrBadPages          = errors.New("pages must be between 1 and 100")
)

// Tool names of the ledger.
const (
	ToolGetBalance      = "get_balance"
	ToolTransfer        = "transfer"
	ToolExportStatement = "export_statement"
)

// DefaultBalances are the accounts a ledger starts with, in cents.
func DefaultBalances() map[string]int64 {
	return map[string]int64{"acme-ops": 1_250_000, "acme-payroll": 8_000_000, "acme-travel": 42_000}
}

// Options configure a sample server.
type Options struct {
	// Balances are the ledger's accounts and their balances in cents; nil means DefaultBalances.
	Balances map[string]int64
	// Gate, when not nil, is received from by export_statement after its first progress notification (or until
	// the call's context ends), so a test decides when the tool may finish.
	Gate <-chan struct{}
}

// ledger is the in-memory state behind the ledger tools.
type ledger struct {
	mu       sync.Mutex
	balances map[string]int64
	gate     <-chan struct{}
}

// BalanceIn is get_balance's input.
type BalanceIn struct {
	Account string `json:"account" jsonschema:"the account id, for example acme-ops"`
}

// BalanceOut is get_balance's result.
type BalanceOut struct {
	Account      string `json:"account"`
	BalanceCents int64  `json:"balance_cents"`
}

// TransferIn is transfer's input.
type TransferIn struct {
	From        string `json:"from" jsonschema:"the account to debit"`
	To          string `json:"to" jsonschema:"the account to credit"`
	AmountCents int64  `json:"amount_cents" jsonschema:"the amount in cents, positive"`
}

// TransferOut is transfer's result: both balances after the transfer.
type TransferOut struct {
	FromBalanceCents int64 `json:"from_balance_cents"`
	ToBalanceCents   int64 `json:"to_balance_cents"`
}

// StatementIn is export_statement's input.
type StatementIn struct {
	Account string `json:"account" jsonschema:"the account id"`
	Pages   int    `json:"pages" jsonschema:"how many pages to render (1 to 100); one progress notification per page"`
}

// StatementOut is export_statement's result.
type StatementOut struct {
	Account string   `json:"account"`
	Pages   []string `json:"pages"`
}

// Ledger returns the ledger MCP server.
func Ledger(opts Options) *mcp.Server {
	balances := opts.Balances
	if balances == nil {
		balances = DefaultBalances()
	}
	l := &ledger{balances: maps.Clone(balances), gate: opts.Gate}
	s := mcp.NewServer(&mcp.Implementation{Name: "sample-ledger", Title: "Sample ledger", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: ToolGetBalance, Description: "Current balance of an account, in cents",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}, l.getBalance)
	mcp.AddTool(s, &mcp.Tool{Name: ToolTransfer, Description: "Move money between two accounts"}, l.transfer)
	mcp.AddTool(s, &mcp.Tool{Name: ToolExportStatement,
		Description: "Render an account statement page by page, reporting progress per page",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}, l.exportStatement)
	return s
}

func (l *ledger) getBalance(_ context.Context, _ *mcp.CallToolRequest, in BalanceIn) (*mcp.CallToolResult, BalanceOut, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.balances[in.Account]
	if !ok {
		return nil, BalanceOut{}, fmt.Errorf("get balance of %q: %w", in.Account, ErrUnknownAccount)
	}
	return nil, BalanceOut{Account: in.Account, BalanceCents: b}, nil
}

func (l *ledger) transfer(_ context.Context, _ *mcp.CallToolRequest, in TransferIn) (*mcp.CallToolResult, TransferOut, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case in.AmountCents <= 0:
		return nil, TransferOut{}, fmt.Errorf("transfer %d: %w", in.AmountCents, ErrBadAmount)
	case in.From == in.To:
		return nil, TransferOut{}, fmt.Errorf("transfer from %q: %w", in.From, ErrSameAccount)
	}
	from, ok := l.balances[in.From]
	if !ok {
		return nil, TransferOut{}, fmt.Errorf("transfer from %q: %w", in.From, ErrUnknownAccount)
	}
	to, ok := l.balances[in.To]
	if !ok {
		return nil, TransferOut{}, fmt.Errorf("transfer to %q: %w", in.To, ErrUnknownAccount)
	}
	if from < in.AmountCents {
		return nil, TransferOut{}, fmt.Errorf("transfer %d from %q: %w", in.AmountCents, in.From, ErrInsufficientFunds)
	}
	l.balances[in.From], l.balances[in.To] = from-in.AmountCents, to+in.AmountCents
	return nil, TransferOut{FromBalanceCents: from - in.AmountCents, ToBalanceCents: to + in.AmountCents}, nil
}

// exportStatement sends one progress notification per page (when the caller asked for progress with a token).
// With a gate it blocks after the first page until the gate is released or the call is cancelled: the first
// notification is then provably on the wire before the result exists.
func (l *ledger) exportStatement(ctx context.Context, req *mcp.CallToolRequest, in StatementIn) (*mcp.CallToolResult, StatementOut, error) {
	if in.Pages < 1 || in.Pages > 100 {
		return nil, StatementOut{}, fmt.Errorf("export %d pages: %w", in.Pages, ErrBadPages)
	}
	l.mu.Lock()
	balance, ok := l.balances[in.Account]
	l.mu.Unlock()
	if !ok {
		return nil, StatementOut{}, fmt.Errorf("export statement of %q: %w", in.Account, ErrUnknownAccount)
	}
	token := req.Params.GetProgressToken()
	out := StatementOut{Account: in.Account}
	for i := 1; i <= in.Pages; i++ {
		out.Pages = append(out.Pages, fmt.Sprintf("%s page %d/%d: balance %d cents", in.Account, i, in.Pages, balance))
		if token != nil {
			err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token,
				Progress: float64(i), Total: float64(in.Pages), Message: fmt.Sprintf("page %d of %d", i, in.Pages)})
			if err != nil {
				return nil, StatementOut{}, fmt.Errorf("notify progress: %w", err)
			}
		}
		if i == 1 && l.gate != nil {
			select {
			case <-l.gate:
			case <-ctx.Done():
				return nil, StatementOut{}, fmt.Errorf("export statement: %w", ctx.Err())
			}
		}
	}
	return nil, out, nil
}
