package api

import (
	_ "embed"
	"encoding/json"
	"sync"

	"gopkg.in/yaml.v3"
)

// openapiYAML is the API's OpenAPI 3.1 description, maintained by hand beside the handlers; a test checks that every
// route is documented and that responses match it.
//
//go:embed openapi.yaml
var openapiYAML []byte

var openAPIJSON = sync.OnceValue(func() []byte {
	var doc any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		panic("api: openapi.yaml is not valid YAML: " + err.Error()) // caught by the tests; the file is compiled in
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("api: openapi.yaml cannot be rendered as JSON: " + err.Error())
	}
	return b
})

// OpenAPI returns the OpenAPI document as JSON.
func OpenAPI() []byte { return openAPIJSON() }
