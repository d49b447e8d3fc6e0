package snapshot

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

// wire is a resource already encoded. go-control-plane encodes every resource again for every response on every
// stream (a 10k-server route configuration and cluster set is about 17 MB, so 100 state-of-the-world nodes cost
// 1.7 GB of encoding per change); publishing wire resources turns that into a copy of bytes encoded once per
// build. The encoding travels as the unknown fields of an empty message, which proto marshals verbatim, and the
// cache names it through GetName. The typed message stays reachable through Message, for readers of the cache.
type wire struct {
	*emptypb.Empty
	name string
	msg  types.Resource
}

// newWire wraps a resource and its deterministic encoding (which must not change afterwards).
func newWire(name string, msg types.Resource, encoded []byte) wire {
	e := new(emptypb.Empty)
	e.ProtoReflect().SetUnknown(protoreflect.RawFields(encoded))
	return wire{Empty: e, name: name, msg: msg}
}

// GetName implements types.ResourceWithName, so the cache indexes the resource by its real name.
func (w wire) GetName() string { return w.name }

// Message returns the typed resource a cache entry stands for: the resource itself, or the one a wire
// resource carries. Readers of the published snapshots (diagnostics, tests) use it.
func Message(r types.Resource) types.Resource {
	if w, ok := r.(wire); ok {
		return w.msg
	}
	return r
}
