package policy

import "errors"

var (
	// ErrInvalidData marks registry data (scopes, mappings) the engine
	// rejects; SetData keeps the previous data.
	ErrInvalidData = errors.New("invalid policy data")
	// ErrInvalidInput marks a request the engine cannot decide because the
	// caller built it wrongly (an empty server, an unknown kind or action).
	ErrInvalidInput = errors.New("invalid policy input")
	// ErrInvalidPolicy marks Rego that does not parse or compile, or that
	// lacks one of the entry points the engine evaluates.
	ErrInvalidPolicy = errors.New("invalid policy")
	// ErrUndefined means the policy produced no result for an entry point;
	// callers must treat it as an engine failure and fail closed.
	ErrUndefined = errors.New("policy result undefined")
	// ErrMalformedResult means the policy produced a result of the wrong
	// shape; an engine failure like ErrUndefined.
	ErrMalformedResult = errors.New("malformed policy result")
)
