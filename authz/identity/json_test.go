package identity_test

import (
	"encoding/base64"
	"encoding/json"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
