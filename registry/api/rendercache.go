package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/view"
)

// renderCache keeps the JSON of objects as callers see them (secrets removed; a server's tools cut to those the
// caller may call). Objects in the view are immutable and a write replaces them with a new rev, so a rendering is
// valid while its rev is current; the view's events drop the renderings of changed and deleted objects.
type renderCache struct {
	m sync.Map // kind + "\x00" + key -> *renderings
}

// renderings of one object revision: keyed by the names of the tools the caller keeps ("" when every tool).
type renderings struct {
	rev int64
	mu  sync.Mutex
	by  map[string][]byte
}

func cacheKey(kind catalog.Kind, key string) string { return string(kind) + "\x00" + key }

func (rc *renderCache) listener() view.Listener {
	return func(events []view.Event) {
		for _, e := range events {
			rc.m.Delete(cacheKey(e.Kind, e.Key))
		}
	}
}

// variant names what v's caller sees of o: "" for everything, else the tools it keeps, so that callers with the same
// grants share a rendering.
func variant(v Visible, o catalog.Object) string {
	s, ok := o.(*catalog.Server)
	if !ok {
		return ""
	}
	keep := v.Tools(s.Name)
	if keep == nil {
		return ""
	}
	var b strings.Builder
	b.WriteByte('|')
	for _, ver := range s.Versions {
		for _, t := range ver.Tools {
			if keep(t.Name) {
				b.WriteString(t.Name)
				b.WriteByte(0)
			}
		}
		b.WriteByte(1)
	}
	return b.String()
}

// json returns o rendered for v's caller.
func (rc *renderCache) json(v Visible, o catalog.Object) ([]byte, error) {
	k, rev, tag := cacheKey(o.Kind(), o.Key()), o.Metadata().Rev, variant(v, o)
	e, _ := rc.m.Load(k)
	r, _ := e.(*renderings)
	if r == nil || r.rev != rev {
		r = &renderings{rev: rev, by: map[string][]byte{}}
		rc.m.Store(k, r)
	}
	r.mu.Lock()
	b, ok := r.by[tag]
	r.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := json.Marshal(render(v, o))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.by[tag] = b
	r.mu.Unlock()
	return b, nil
}

// writeList renders a listing from cached object JSON: {"items":[...],"next_cursor":"..."}.
func (s *Server) writeList(c *gin.Context, v Visible, items []catalog.Object, next string) {
	var buf bytes.Buffer
	buf.WriteString(`{"items":[`)
	for i, o := range items {
		b, err := s.rendered.json(v, o)
		if err != nil {
			s.fail(c, err)
			return
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	if next != "" {
		buf.WriteString(`,"next_cursor":`)
		cur, _ := json.Marshal(next)
		buf.Write(cur)
	}
	buf.WriteByte('}')
	c.Data(http.StatusOK, "application/json; charset=utf-8", buf.Bytes())
}

// writeObject renders one object with the given status.
func (s *Server) writeObject(c *gin.Context, status int, v Visible, o catalog.Object) {
	b, err := s.rendered.json(v, o)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(status, "application/json; charset=utf-8", b)
}
