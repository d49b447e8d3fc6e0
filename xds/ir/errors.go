package ir

import (
	"errors"
	"fmt"
)

// ErrInvalid marks a server or model the gateway cannot route. Every error of this package wraps it.
var ErrInvalid = errors.New("invalid gateway model")

// Error names the object and field that make a model invalid.
type Error struct {
	// Object is the server or virtual server name ("" for the model as a whole).
	Object string
	// Field is the offending field, e.g. "versions[1].url".
	Field  string
	Reason string
}

func (e *Error) Error() string {
	switch {
	case e.Object == "":
		return fmt.Sprintf("%v: %s: %s", ErrInvalid, e.Field, e.Reason)
	case e.Field == "":
		return fmt.Sprintf("%v: %s: %s", ErrInvalid, e.Object, e.Reason)
	}
	return fmt.Sprintf("%v: %s: %s: %s", ErrInvalid, e.Object, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

func invalid(object, field, format string, args ...any) *Error {
	return &Error{Object: object, Field: field, Reason: fmt.Sprintf(format, args...)}
}
