package view

import (
	"errors"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

func isNotFound(err error) bool { return errors.Is(err, catalog.ErrNotFound) }
