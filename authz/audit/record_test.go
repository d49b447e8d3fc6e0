package audit

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFormatIDOrdersByTime(t *testing.T) {
	// Invariant: comparing IDs as strings compares their times, across digit-count changes and whatever the random
	// part, and IDTime recovers the time.
	times := []time.Time{
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Unix(9, 999_999_999),
		time.Unix(10, 0),
		time.Date(2001, 9, 9, 1, 46, 40, 0, time.UTC),
		time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 24, 12, 0, 0, 1, time.UTC),
		time.Unix(0, math.MaxInt64),
	}
	randoms := []uint64{math.MaxUint64, 0, 0xdeadbeef, 1, 42, 7, math.MaxUint64, 0}
	var ids []string
	for i, tm := range times {
		id := FormatID(tm, randoms[i])
		if len(id) != idLen {
			t.Errorf("len(%q) = %d", id, len(id))
		}
		got, err := IDTime(id)
		if err != nil || !got.Equal(tm) {
			t.Errorf("IDTime(%q) = %v, %v; want %v", id, got, err, tm)
		}
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("ids not sorted: %q", ids)
	}
	if got := FormatID(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), 0); got != FormatID(time.Unix(0, 0), 0) {
		t.Errorf("pre-epoch id %q not clamped", got)
	}
}

func TestIDLowerBound(t *testing.T) {
	// Invariant: [IDLowerBound(from), IDLowerBound(to)) holds exactly the IDs of times in [from, to).
	from := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	to := from.Add(time.Second)
	lo, hi := IDLowerBound(from), IDLowerBound(to)
	tests := []struct {
		at   time.Time
		in   bool
		rand uint64
	}{
		{from.Add(-1), false, math.MaxUint64},
		{from, true, 0},
		{from, true, math.MaxUint64},
		{to.Add(-1), true, math.MaxUint64},
		{to, false, 0},
	}
	for _, tc := range tests {
		id := FormatID(tc.at, tc.rand)
		if in := id >= lo && id < hi; in != tc.in {
			t.Errorf("%s in [%s, %s) = %v; want %v", id, lo, hi, in, tc.in)
		}
	}
}

func TestIDTimeRejects(t *testing.T) {
	// Invariant: anything that is not an ID FormatID could produce is refused with ErrBadID.
	for _, id := range []string{"", "x", "1795929600000000000_9f3a0c1b2d4e5f60", "179592960000000000a-9f3a0c1b2d4e5f60",
		"1795929600000000000-9F3A0C1B2D4E5F60", "-795929600000000000-9f3a0c1b2d4e5f60", "1795929600000000000-9f3a0c1b2d4e5f6"} {
		if _, err := IDTime(id); !errors.Is(err, ErrBadID) {
			t.Errorf("IDTime(%q) err = %v", id, err)
		}
	}
}

func TestIDSequenceStrictlyIncreases(t *testing.T) {
	// Invariant: IDs from one sequence strictly increase even when times repeat or go backwards.
	seq := idSequence{random: func() uint64 { return 0 }}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := ""
	for _, d := range []time.Duration{0, 0, 0, -time.Second, time.Nanosecond, time.Hour} {
		id := seq.next(base.Add(d))
		if id <= prev {
			t.Errorf("%s not after %s", id, prev)
		}
		prev = id
	}
}

func TestRecordJSON(t *testing.T) {
	// Invariant: a record serialises with the stored field names (snake_case, _id only for BSON), keeps allow=false,
	// and omits the other kind's fields.
	rec := Record{ID: "0000000000000000001-0000000000000001", Kind: KindDecision,
		Time: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), Subject: "alice", Groups: []string{"eng"},
		Allow: false, Reason: "no grant", Server: "io.example/weather", Method: "tools/call", Tool: "get_weather",
		Arguments: map[string]any{"city": "Paris"}, Latency: 1500 * time.Microsecond}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "0000000000000000001-0000000000000001", "kind": "decision", "time": "2026-11-24T12:00:00Z",
		"subject": "alice", "groups": []any{"eng"}, "allow": false, "reason": "no grant", "server": "io.example/weather",
		"method": "tools/call", "tool": "get_weather", "arguments": map[string]any{"city": "Paris"}, "latency_ns": float64(1_500_000)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON mismatch (-want +got):\n%s", diff)
	}
	mut := Record{ID: "x", Kind: KindMutation, Subject: "bob", Allow: true, Action: ActionUpdate, Resource: "servers",
		Name: "io.example/weather", RevBefore: 41, RevAfter: 57}
	b, _ = json.Marshal(mut)
	var back Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mut, back); diff != "" {
		t.Errorf("mutation round trip (-want +got):\n%s", diff)
	}
}
