package catalog_test

import (
	"errors"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

func TestDecodeNamesTheElementOfAWrongType(t *testing.T) {
	// Invariant: a value of the wrong type is reported at its full path, array indexes included, so a client can
	// find it in a long document; paths through embedded structs stay the document's own.
	for _, c := range []struct{ doc, field string }{
		{`{"name":"ns/x","tags":"finance"}`, "tags"},
		{`{"name":"ns/x","versions":[{"version":"1.0.0"},{"version":1.0}]}`, "versions[1].version"},
		{`{"name":"ns/x","versions":[{"version":"1.0.0","tools":[{"name":"a"},{"name":"b","description":["x"]}]}]}`,
			"versions[0].tools[1].description"},
		{`{"name":"ns/x","versions":[{"version":"1.0.0","tools":{}}]}`, "versions[0].tools"},
		{`{"description":"d","versions":[[1]],"name":"ns/x"}`, "versions[0]"},
		{` [1] `, "body"},
	} {
		var s catalog.Server
		err := catalog.Decode([]byte(c.doc), &s)
		var ve *catalog.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != c.field {
			t.Errorf("%s: %v, want a refusal of %s", c.doc, err, c.field)
		}
	}
}
