package virtual

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrSecret marks a secret reference that cannot be resolved; the concrete error is a *SecretError.
var ErrSecret = errors.New("unresolvable secret reference")

// SecretError says why a reference did not resolve. It never holds the secret: Ref is empty when the reference
// was not one (a literal secret put where a reference belongs must not be echoed).
type SecretError struct {
	Ref    string
	Reason string
}

func (e *SecretError) Error() string {
	if e.Ref == "" {
		return "secret reference: " + e.Reason
	}
	return fmt.Sprintf("secret %s: %s", e.Ref, e.Reason)
}

// Is makes errors.Is(err, ErrSecret) true.
func (e *SecretError) Is(target error) bool { return target == ErrSecret }

// SecretResolver turns a secret reference (catalog.EgressAuth.SecretRef) into the secret.
type SecretResolver interface {
	Resolve(ctx context.Context, ref string) (string, error)
}

// Secrets resolves env:NAME and file:/path references, the two kinds a registry process can read by itself; the
// others the catalog accepts (vault:, k8s:, aws-sm:, gcp-sm:) name secret stores it has no client for and fail with
// a SecretError saying so. The process supplies the environment and the file system (cmd passes os.LookupEnv and
// os.ReadFile), so the package reads neither by itself.
//
// A secret is read on every use, so a rotated file or variable takes effect without a restart; a file's trailing
// line break is dropped. A value with a line break inside is refused: it would split the HTTP header it goes into.
type Secrets struct {
	LookupEnv func(name string) (string, bool)
	ReadFile  func(path string) ([]byte, error)
}

// MaxSecretBytes bounds a secret read from a file.
const MaxSecretBytes = 16 << 10

// Resolve implements SecretResolver.
func (s Secrets) Resolve(_ context.Context, ref string) (string, error) {
	scheme, arg, ok := strings.Cut(ref, ":")
	if !ok || arg == "" {
		return "", &SecretError{Reason: "is not a secret reference (env:NAME or file:/path)"}
	}
	var v string
	switch scheme {
	case "env":
		if s.LookupEnv == nil {
			return "", &SecretError{Ref: ref, Reason: "environment references are not enabled in this process"}
		}
		val, found := s.LookupEnv(arg)
		if !found || val == "" {
			return "", &SecretError{Ref: ref, Reason: "the environment variable is not set"}
		}
		v = val
	case "file":
		if s.ReadFile == nil {
			return "", &SecretError{Ref: ref, Reason: "file references are not enabled in this process"}
		}
		if !strings.HasPrefix(arg, "/") {
			return "", &SecretError{Ref: ref, Reason: "the path must be absolute"}
		}
		b, err := s.ReadFile(arg)
		if err != nil {
			return "", &SecretError{Ref: ref, Reason: "the file cannot be read"}
		}
		if len(b) > MaxSecretBytes {
			return "", &SecretError{Ref: ref, Reason: fmt.Sprintf("the file is larger than %d bytes", MaxSecretBytes)}
		}
		v = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if v == "" {
			return "", &SecretError{Ref: ref, Reason: "the file is empty"}
		}
	case "vault", "k8s", "aws-sm", "gcp-sm":
		return "", &SecretError{Ref: ref, Reason: fmt.Sprintf("%s: references are not supported by the registry; use env: or file:", scheme)}
	default:
		return "", &SecretError{Reason: "is of an unknown kind; use env:NAME or file:/path"}
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return "", &SecretError{Ref: ref, Reason: "the value contains a line break or NUL"}
	}
	return v, nil
}
