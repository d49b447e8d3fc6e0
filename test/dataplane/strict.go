package dataplane

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// ErrUnsupported marks configuration the data plane does not emulate. A resource carrying it is NACKed whole, so
// a feature mcpgw starts emitting fails loudly here instead of being silently ignored.
var ErrUnsupported = errors.New("not emulated by the test data plane")

// ErrInvalid marks configuration that is malformed in itself (what Envoy's own validation would refuse).
var ErrInvalid = errors.New("invalid configuration")

// only fails when m has a set field whose name is not in known, or unknown (unparsed) fields. Names are the proto
// field names (snake_case); a oneof member counts under its own name.
func only(m proto.Message, known ...string) error {
	r := m.ProtoReflect()
	var extra []string
	r.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if !slices.Contains(known, string(fd.Name())) {
			extra = append(extra, string(fd.Name()))
		}
		return true
	})
	if len(r.GetUnknown()) > 0 {
		extra = append(extra, "(unknown fields)")
	}
	if len(extra) == 0 {
		return nil
	}
	return fmt.Errorf("%s: fields %s: %w", r.Descriptor().Name(), strings.Join(extra, ", "), ErrUnsupported)
}

// unpack decodes a typed config into into, refusing another type.
func unpack(a *anypb.Any, into proto.Message) error {
	if a == nil {
		return fmt.Errorf("read typed config: missing %s: %w", into.ProtoReflect().Descriptor().FullName(), ErrInvalid)
	}
	if err := a.UnmarshalTo(into); err != nil {
		return fmt.Errorf("read typed config %s as %s: %w", a.GetTypeUrl(), into.ProtoReflect().Descriptor().FullName(),
			errors.Join(err, ErrUnsupported))
	}
	return nil
}
