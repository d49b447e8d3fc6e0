package identity

import "errors"

// ErrNoToken means the request carried no bearer token at all. Per RFC 6750 §3.1 the answer is a bare 401 challenge
// without an error code.
var ErrNoToken = errors.New("no bearer token")

// ErrInvalidToken is matched (errors.Is) by every fault of a presented token: malformed, unknown issuer, forbidden
// algorithm, unknown key, bad signature, expired, wrong audience, missing claims. It maps to 401 invalid_token.
var ErrInvalidToken = errors.New("invalid token")

// ErrKeysUnavailable means the issuer's keys could not be obtained (discovery or JWKS fetch failed and no earlier
// key set is cached). It is not the caller's fault; the edge reports an internal error and fails closed.
var ErrKeysUnavailable = errors.New("issuer keys unavailable")

// ErrInvalidConfig is matched by every error that Config.Validate and ParseConfig return.
var ErrInvalidConfig = errors.New("invalid identity config")

// The specific token faults. Each one also matches ErrInvalidToken.
var (
	// ErrMalformedToken: not a compact JWS, bad base64url, bad JSON, a "crit" header, or an oversized token.
	ErrMalformedToken error = &tokenError{"malformed token"}
	// ErrUnknownIssuer: the "iss" claim names no configured issuer.
	ErrUnknownIssuer error = &tokenError{"unknown issuer"}
	// ErrAlgorithmNotAllowed: "none", any HMAC algorithm, or an algorithm outside the issuer's list.
	ErrAlgorithmNotAllowed error = &tokenError{"signature algorithm not allowed"}
	// ErrUnknownKey: no key of the issuer's key set matches the token's "kid" (even after a refresh).
	ErrUnknownKey error = &tokenError{"unknown signing key"}
	// ErrBadSignature: the signature does not verify with the issuer's key.
	ErrBadSignature error = &tokenError{"signature verification failed"}
	// ErrExpired: "exp" is in the past, beyond the issuer's clock skew.
	ErrExpired error = &tokenError{"token expired"}
	// ErrNotYetValid: "nbf" or "iat" lies in the future, beyond the issuer's clock skew.
	ErrNotYetValid error = &tokenError{"token not yet valid"}
	// ErrAudience: no "aud" value is one of the issuer's audiences.
	ErrAudience error = &tokenError{"token audience not accepted"}
	// ErrMissingClaim: a required claim is absent or of the wrong type ("iss", "exp", a subject or client id).
	ErrMissingClaim error = &tokenError{"required claim missing or invalid"}
)

// tokenError is the type of the specific token faults; it makes each of them match ErrInvalidToken too.
type tokenError struct{ msg string }

func (e *tokenError) Error() string { return e.msg }

// Is reports that every specific token fault is also an ErrInvalidToken.
func (e *tokenError) Is(target error) bool { return target == ErrInvalidToken }
