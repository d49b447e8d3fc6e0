package catalog

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. The edges (REST, MCP, ext_authz) map them to answers with errors.Is.
var (
	// ErrNotFound means no object has the requested key (or the caller may not see it).
	ErrNotFound = errors.New("not found")
	// ErrConflict means an object with that key already exists.
	ErrConflict = errors.New("already exists")
	// ErrRevMismatch means a conditional write named a rev that is no longer current.
	ErrRevMismatch = errors.New("revision mismatch")
	// ErrInvalid wraps every validation failure; the concrete error is a *ValidationError.
	ErrInvalid = errors.New("invalid")
	// ErrForbidden means the caller may not perform the operation.
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable means the store cannot be reached.
	ErrUnavailable = errors.New("store unavailable")
)

// FieldError names one field that failed validation and why.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// ValidationError collects every field error of one object, so a client can fix them all at once.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+f.Reason)
	}
	return "invalid: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true for every validation error.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// problems accumulates field errors during validation.
type problems struct {
	fields []FieldError
}

func (p *problems) add(field, format string, args ...any) {
	p.fields = append(p.fields, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: p.fields}
}

// Invalid returns a validation error for one field; the edges use it for input they check themselves.
func Invalid(field, format string, args ...any) error {
	var p problems
	p.add(field, format, args...)
	return p.err()
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
