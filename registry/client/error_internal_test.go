package client

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

func TestDecodeError(t *testing.T) {
	// Invariant: whatever an error answer's body holds, the result is an *Error whose status is the HTTP status and
	// which matches the sentinel of its problem type, or of its status when the type is not the registry's.
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        Error
		is          error
	}{
		{"registry problem", 412, "application/problem+json",
			`{"type":"https://mcpgw.dev/problems/precondition-failed","title":"Precondition failed","status":412,"detail":"read it again"}`,
			Error{Status: 412, Type: ProblemBase + "precondition-failed", Title: "Precondition failed", Detail: "read it again"},
			catalog.ErrRevMismatch},
		{"field errors", 422, "application/problem+json; charset=utf-8",
			`{"type":"https://mcpgw.dev/problems/validation-failed","title":"Validation failed","status":422,"errors":[{"field":"name","reason":"is required"},{}]}`,
			Error{Status: 422, Type: ProblemBase + "validation-failed", Title: "Validation failed",
				Errors: []catalog.FieldError{{Field: "name", Reason: "is required"}}},
			catalog.ErrInvalid},
		{"body status is ignored", 404, "application/problem+json",
			`{"type":"about:blank","title":"Gone fishing","status":200}`,
			Error{Status: 404, Type: "about:blank", Title: "Gone fishing"}, catalog.ErrNotFound},
		{"type decides over status", 400, "application/problem+json",
			`{"type":"https://mcpgw.dev/problems/malformed-json","title":"Malformed JSON","status":400}`,
			Error{Status: 400, Type: ProblemBase + "malformed-json", Title: "Malformed JSON"}, catalog.ErrMalformed},
		{"proxy HTML page", 502, "text/html", `<html><body>Bad gateway</body></html>`,
			Error{Status: 502, Type: "about:blank", Title: "Bad Gateway"}, nil},
		{"plain text from a load balancer", 503, "text/plain", "upstream connect error\r\n\x1b[31mred",
			Error{Status: 503, Type: "about:blank", Title: "Service Unavailable", Detail: "upstream connect error   [31mred"},
			catalog.ErrUnavailable},
		{"broken JSON", 409, "application/json", `{"title":`,
			Error{Status: 409, Type: "about:blank", Title: "Conflict"}, catalog.ErrConflict},
		{"JSON of another shape", 401, "application/json", `["not","a","problem"]`,
			Error{Status: 401, Type: "about:blank", Title: "Unauthorized"}, ErrUnauthorized},
		{"unknown status", 599, "", "",
			Error{Status: 599, Type: "about:blank", Title: "HTTP 599"}, nil},
		{"forbidden", 403, "application/problem+json", `{"type":"https://mcpgw.dev/problems/forbidden","title":"Forbidden"}`,
			Error{Status: 403, Type: ProblemBase + "forbidden", Title: "Forbidden"}, catalog.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeError(tt.status, tt.contentType, []byte(tt.body))
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			for _, s := range []error{catalog.ErrNotFound, catalog.ErrConflict, catalog.ErrRevMismatch, catalog.ErrForbidden,
				catalog.ErrInvalid, catalog.ErrMalformed, catalog.ErrUnavailable, ErrUnauthorized} {
				if want := errors.Is(s, tt.is); errors.Is(got, s) != want {
					t.Fatalf("errors.Is(%v) = %v", s, !want)
				}
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Status: 422, Title: "Validation failed", Detail: "see errors",
		Errors: []catalog.FieldError{{Field: "name", Reason: "is required"}, {Field: "versions", Reason: "at least one"}}}
	const want = "Validation failed (422): see errors: name: is required; versions: at least one"
	if got := e.Error(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParseETag(t *testing.T) {
	// Invariant: only an ETag this API issues (a quoted non-negative integer, possibly weakened) reads as a rev.
	tests := []struct {
		etag string
		want int64
	}{
		{`"42"`, 42}, {`W/"7"`, 7}, {` "1" `, 1}, {`42`, 0}, {`""`, 0}, {`"x"`, 0}, {`"-3"`, 0}, {``, 0},
		{`"99999999999999999999"`, 0}, {`"4"2"`, 0},
	}
	for _, tt := range tests {
		if got := parseETag(tt.etag); got != tt.want {
			t.Errorf("parseETag(%q) = %d, want %d", tt.etag, got, tt.want)
		}
	}
}

func FuzzDecodeError(f *testing.F) {
	f.Add(422, "application/problem+json", []byte(`{"type":"https://mcpgw.dev/problems/validation-failed","errors":[{"field":"a","reason":"b"}]}`))
	f.Add(500, "text/plain", []byte("oops\x00\xff"))
	f.Add(404, "application/json", []byte(`{"status":"x"}`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		e := decodeError(status, contentType, body)
		if e == nil || e.Status != status || e.Type == "" || e.Title == "" {
			t.Fatalf("decodeError(%d, %q) = %+v", status, contentType, e)
		}
		if e.Detail != "" && !strings.HasPrefix(contentType, "application/") {
			if len(e.Detail) > maxDetail+len("…") || !utf8.ValidString(e.Detail) && utf8.ValidString(string(body)) {
				t.Fatalf("detail %q", e.Detail)
			}
			for _, r := range e.Detail {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("control character in detail %q", e.Detail)
				}
			}
		}
		_ = e.Error()
		_ = errors.Is(e, catalog.ErrNotFound)
	})
}

func FuzzParseETag(f *testing.F) {
	f.Add(`"1"`)
	f.Add(`W/"18446744073709551615"`)
	f.Fuzz(func(t *testing.T, etag string) {
		if n := parseETag(etag); n < 0 {
			t.Fatalf("parseETag(%q) = %d", etag, n)
		}
	})
}
