package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

func TestEntityTypeDeleteRacingAnEntityCreateLeavesNoOrphan(t *testing.T) {
	// Invariant: an entity type is deleted only when no entity of it exists, even while an entity of it is being
	// created: either the create wins (and the delete answers 409) or the delete wins (and the create answers 422),
	// never an entity whose type is gone.
	e := newEnv(t)
	for i := range 20 {
		typ := fmt.Sprintf("kind%d", i)
		e.create(t, "/api/v1/entity-types", entityTypeBody(typ))
		var wg sync.WaitGroup
		var created, deleted reply
		wg.Add(2)
		go func() {
			defer wg.Done()
			created = e.do(t, http.MethodPost, "/api/v1/entities/"+typ, entityBody("ns/e"))
		}()
		go func() { defer wg.Done(); deleted = e.do(t, http.MethodDelete, "/api/v1/entity-types/"+typ, nil) }()
		wg.Wait()
		_, err := e.store.Get(t.Context(), catalog.KindEntity, catalog.EntityKey(typ, "ns/e"))
		entityExists := err == nil
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			t.Fatal(err)
		}
		if deleted.Status == http.StatusNoContent && entityExists {
			t.Fatalf("round %d: type deleted (204) while its entity was created (%d): an orphan entity", i, created.Status)
		}
	}
}
