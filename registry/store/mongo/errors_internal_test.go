package mongo

import (
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

func TestFailoverErrorsAreUnavailable(t *testing.T) {
	// Invariant: what a replica set answers while it elects a primary or shuts down (after the driver's one retry)
	// is ErrUnavailable, a 503 that clients retry, not an internal error; a refusal of the operation itself is not.
	unavailable := map[string]error{
		"not writable primary":         mongo.CommandError{Code: 10107, Name: "NotWritablePrimary"},
		"primary stepped down":         mongo.CommandError{Code: 189, Name: "PrimarySteppedDown"},
		"interrupted by state change":  mongo.CommandError{Code: 11602, Name: "InterruptedDueToReplStateChange"},
		"shutting down":                mongo.CommandError{Code: 91, Name: "ShutdownInProgress"},
		"retryable write error":        mongo.CommandError{Code: 1, Labels: []string{"RetryableWriteError"}},
		"write exception, not primary": mongo.WriteException{WriteErrors: mongo.WriteErrors{{Code: 10107}}},
	}
	for name, err := range unavailable {
		if !errors.Is(wrapErr(err), catalog.ErrUnavailable) {
			t.Errorf("%s: not ErrUnavailable", name)
		}
	}
	if err := wrapErr(mongo.CommandError{Code: 2, Name: "BadValue"}); errors.Is(err, catalog.ErrUnavailable) {
		t.Error("a bad value is ErrUnavailable")
	}
}
