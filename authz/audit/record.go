package audit

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Kind says what a Record records.
type Kind string

const (
	// KindDecision is an ext_authz decision on one MCP message (or on a GET/DELETE at an MCP endpoint).
	KindDecision Kind = "decision"
	// KindMutation is a management change through the registry's REST API.
	KindMutation Kind = "mutation"
)

// Common mutation actions. The registry may use others (e.g. "enable", "scan"); Action is free text.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Record is one audit entry. Both kinds share the identity fields (who), Allow and Reason; the decision fields are
// empty on mutations and the mutation fields empty on decisions. Field names are the stored names: the JSON tags
// serve the REST API and, through the store's UseJSONStructTags option, BSON; ID alone is stored as _id.
type Record struct {
	// ID orders records by time; see FormatID. The Batcher assigns it when empty, and the store keys records by it.
	ID   string    `json:"id" bson:"_id"`
	Kind Kind      `json:"kind"`
	Time time.Time `json:"time"` // when the decision or change happened; the Batcher sets it at Submit when zero

	// Who.
	Subject string   `json:"subject,omitempty"` // the token's sub
	Client  string   `json:"client,omitempty"`  // OAuth client id (machine identities, or azp of a user token)
	Groups  []string `json:"groups,omitempty"`
	Issuer  string   `json:"issuer,omitempty"`

	// Outcome: whether the call or change was allowed, and why (the policy's reason, or the error that refused it).
	Allow  bool   `json:"allow"`
	Reason string `json:"reason,omitempty"`
	Rule   string `json:"rule,omitempty"` // the policy rule that decided, when a policy decided

	// Decision fields.
	DecisionID string `json:"decision_id,omitempty"` // shared by the records of one Check (a batch has several)
	RequestID  string `json:"request_id,omitempty"`  // Envoy's x-request-id, to join with access logs
	TargetKind string `json:"target_kind,omitempty"` // "server" or "virtual"
	Server     string `json:"server,omitempty"`
	Version    string `json:"version,omitempty"`
	Method     string `json:"method,omitempty"` // JSON-RPC method; empty for GET, DELETE and client responses
	// Tool is the tool or prompt name, or the resource URI, the message acts on.
	Tool string `json:"tool,omitempty"`
	// Arguments are the call's arguments. Submit takes ownership: the caller must not change the map afterwards;
	// the Batcher stores a redacted copy whose keys are escaped with EscapeKey (read them back with UnescapeKey).
	Arguments map[string]any `json:"arguments,omitempty"`
	// Latency is how long the decision took, in nanoseconds when serialised.
	Latency time.Duration `json:"latency_ns,omitempty"`

	// Mutation fields.
	Action   string `json:"action,omitempty"`   // create, update, delete, ...
	Resource string `json:"resource,omitempty"` // the catalog kind, e.g. "servers"
	Name     string `json:"name,omitempty"`     // the object's key
	// RevBefore and RevAfter are the object's rev before and after the change: RevBefore is 0 for a create and
	// RevAfter 0 for a delete or a refused change.
	RevBefore int64 `json:"rev_before,omitempty"`
	RevAfter  int64 `json:"rev_after,omitempty"`
}

// ID format: the record time as Unix nanoseconds, zero-padded to 19 digits, a '-', and 16 lower-case hex digits of
// randomness: "1795929600000000000-9f3a0c1b2d4e5f60". Byte order equals time order for every time from 1970 to 2262,
// so an _id range is a time range and the store needs no second index for time queries. Within one Batcher, IDs
// strictly increase in the order records leave the queue (equal or backward times are nudged forward by a
// nanosecond in the ID only); the random part keeps IDs from different processes apart.
const (
	idTimeDigits = 19
	idLen        = idTimeDigits + 1 + 16
)

// FormatID builds a record ID from a time and 64 random bits. Times before 1970 are clamped to the epoch.
func FormatID(t time.Time, random uint64) string {
	return formatID(unixNanos(t), random)
}

func unixNanos(t time.Time) int64 {
	n := t.UnixNano()
	if n < 0 || t.Before(time.Unix(0, 0)) {
		return 0
	}
	return n
}

func formatID(nanos int64, random uint64) string {
	var b [idLen]byte
	ts := strconv.AppendInt(b[:0:idTimeDigits], nanos, 10)
	pad := idTimeDigits - len(ts)
	copy(b[pad:idTimeDigits], ts)
	for i := range pad {
		b[i] = '0'
	}
	b[idTimeDigits] = '-'
	const hex = "0123456789abcdef"
	for i := range 16 {
		b[idLen-1-i] = hex[random&0xF]
		random >>= 4
	}
	return string(b[:])
}

// IDLowerBound is the smallest ID a record at or after t can have: query [IDLowerBound(from), IDLowerBound(to))
// for the records of a time range.
func IDLowerBound(t time.Time) string {
	return formatID(unixNanos(t), 0)[:idTimeDigits+1]
}

// ErrBadID means a string is not a record ID.
var ErrBadID = errors.New("not an audit record id")

// IDTime returns the time encoded in a record ID.
func IDTime(id string) (time.Time, error) {
	if len(id) != idLen || id[idTimeDigits] != '-' {
		return time.Time{}, fmt.Errorf("parse id %q: %w", id, ErrBadID)
	}
	n, err := strconv.ParseInt(id[:idTimeDigits], 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("parse id %q: %w", id, ErrBadID)
	}
	for _, c := range []byte(id[idTimeDigits+1:]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return time.Time{}, fmt.Errorf("parse id %q: %w", id, ErrBadID)
		}
	}
	return time.Unix(0, n).UTC(), nil
}

// idSequence hands out strictly increasing IDs. It is used by one goroutine (the Batcher's Run loop).
type idSequence struct {
	last   int64
	random func() uint64
}

func (s *idSequence) next(t time.Time) string {
	n := unixNanos(t)
	if n <= s.last {
		n = s.last + 1
	}
	s.last = n
	return formatID(n, s.random())
}
