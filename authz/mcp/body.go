package mcp

import "fmt"

// This file reads the JSON-RPC body: one message object, or (before the stateless revision) a batch array of them.
// Syntax is checked over the whole body before any semantic error is reported, so malformed JSON is always -32700;
// of the semantic errors the first one in body order wins, carrying the id of its message when that could be read.

// field is the span of one member value, and whether it was a string literal with escapes.
type field struct {
	start, end int
	first      byte // first byte of the value: '"', '{', '[', 'n', 't', 'f', '-' or a digit; 0 when absent
	escaped    bool
}

func (f field) present() bool  { return f.first != 0 }
func (f field) isString() bool { return f.first == '"' }

// equals reports whether the string literal f (in buf) decodes to v, without allocating for unescaped literals.
func (f field) equals(buf []byte, v string) bool {
	if !f.isString() {
		return false
	}
	if !f.escaped {
		return string(buf[f.start+1:f.end-1]) == v
	}
	return stringValue(buf[f.start:f.end], true) == v
}

// field reads the value at the cursor.
func (s *scanner) field() (field, error) {
	c := s.peek()
	start := s.pos
	if c == '"' {
		esc, err := s.str()
		return field{start: start, end: s.pos, first: c, escaped: esc}, err
	}
	_, end, err := s.value()
	return field{start: start, end: end, first: c}, err
}

// bodyFields carries what the header checks need beyond the Messages themselves, as spans of buf so that nothing
// is decoded unless a check needs it.
type bodyFields struct {
	buf         []byte
	meta0       field   // params._meta protocolVersion of the first message (a string literal when present)
	metas       []field // the same for every message of a batch
	initVersion field   // params.protocolVersion of the first initialize request
	mirror      field   // params.name, else params.uri, of the first message: the source of Mcp-Name
}

func (f *bodyFields) metaVersion(i int) field {
	if f.metas != nil {
		return f.metas[i]
	}
	return f.meta0
}

// msgScan collects the members of one message object.
type msgScan struct {
	jsonrpc, id, method, params, result, err field
	name, uri, args, proto                   field // members of params
	refType, refName, refURI                 field // members of params.ref
	ref                                      field
	meta                                     field // params._meta["io.modelcontextprotocol/protocolVersion"]
}

// body parses the body into r.Messages.
func (p *Parser) body(r *Request, body []byte, f *bodyFields) error {
	s := newScanner(body, p.maxDepth)
	f.buf = body
	sc, _ := p.scratch.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	s.borrow(sc)
	defer func() {
		s.giveBack(sc)
		p.scratch.Put(sc)
	}()
	var semantic *Error
	switch s.peek() {
	case '{':
		m := &r.one[0]
		e, err := p.message(&s, m, f, 0)
		if err != nil {
			return parseError(err)
		}
		semantic = e
		r.Messages = r.one[:1]
	case '[':
		if r.Stateless {
			if err := validateJSON(body, p.maxDepth); err != nil {
				return parseError(err)
			}
			return invalidRequest("the stateless protocol revision does not allow batches")
		}
		r.Batch = true
		f.metas = make([]field, 0, 8)
		e, err := p.batch(&s, r, f)
		if err != nil {
			return err
		}
		semantic = e
	default:
		if err := validateJSON(body, p.maxDepth); err != nil {
			return parseError(err)
		}
		return invalidRequest("the body must be a JSON-RPC message object or a batch array")
	}
	if err := s.end(); err != nil {
		return parseError(err)
	}
	if semantic != nil {
		return semantic
	}
	return nil
}

func (p *Parser) batch(s *scanner, r *Request, f *bodyFields) (*Error, error) {
	s.depth++
	s.pos++ // '['
	var semantic *Error
	for n := 0; ; n++ {
		c := s.peek()
		if n == 0 && c == ']' {
			s.pos++
			if err := s.end(); err != nil {
				return nil, parseError(err)
			}
			return nil, invalidRequest("empty batch")
		}
		if n > 0 {
			switch c {
			case ']':
				s.pos++
				s.depth--
				return semantic, nil
			case ',':
				s.pos++
				c = s.peek()
			default:
				return nil, parseError(errSyntax)
			}
		}
		if n == p.maxBatch {
			return nil, invalidRequest(fmt.Sprintf("batch larger than %d messages", p.maxBatch))
		}
		if c != '{' {
			if _, _, err := s.value(); err != nil {
				return nil, parseError(err)
			}
			if semantic == nil {
				semantic = invalidRequest("a batch element is not a JSON-RPC message object")
			}
			r.Messages = append(r.Messages, Message{})
			f.metas = append(f.metas, field{})
			continue
		}
		r.Messages = append(r.Messages, Message{})
		f.metas = append(f.metas, field{})
		e, err := p.message(s, &r.Messages[n], f, n)
		if err != nil {
			return nil, parseError(err)
		}
		if semantic == nil {
			semantic = e
		}
	}
}

// message parses one message object at the cursor into m. A syntax error is returned as err; a semantic error as
// the *Error, after the whole object has been scanned.
func (p *Parser) message(s *scanner, m *Message, f *bodyFields, index int) (*Error, error) {
	var ms msgScan
	err := s.members(func(key []byte) (err error) {
		switch string(key) {
		case "jsonrpc":
			ms.jsonrpc, err = s.field()
		case "id":
			ms.id, err = s.field()
		case "method":
			ms.method, err = s.field()
		case "params":
			ms.params, err = ms.readParams(s)
		case "result":
			ms.result, err = s.field()
		case "error":
			ms.err, err = s.field()
		default:
			if caseVariant(key, "jsonrpc", "id", "method", "params", "result", "error") {
				return errCaseVariant
			}
			_, _, err = s.value()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	e := ms.build(s.buf, m)
	if e != nil {
		return withID(e, m.ID), nil
	}
	if ms.meta.present() && !ms.meta.isString() {
		return withID(invalidParams("params._meta protocolVersion must be a string"), m.ID), nil
	}
	if f.metas != nil {
		f.metas[index] = ms.meta
	} else {
		f.meta0 = ms.meta
	}
	if index == 0 {
		switch {
		case ms.name.isString():
			f.mirror = ms.name
		case ms.uri.isString():
			f.mirror = ms.uri
		}
	}
	if m.Method == MethodInitialize && m.Kind == KindRequest && !f.initVersion.present() && ms.proto.isString() {
		f.initVersion = ms.proto
	}
	return nil, nil
}

// object reads the value at the cursor: an object member by member through visit (which must consume each
// member's value), anything else as a plain field. Only the first byte of an object's field is meaningful.
func (s *scanner) object(visit func(key []byte) error) (field, error) {
	if s.peek() != '{' {
		return s.field()
	}
	return field{start: s.pos, first: '{'}, s.members(visit)
}

func (ms *msgScan) readParams(s *scanner) (field, error) {
	return s.object(func(key []byte) (err error) {
		switch string(key) {
		case "name":
			ms.name, err = s.field()
		case "uri":
			ms.uri, err = s.field()
		case "arguments":
			ms.args, err = s.field()
		case "protocolVersion":
			ms.proto, err = s.field()
		case "ref":
			ms.ref, err = ms.readRef(s)
		case "_meta":
			_, err = ms.readMeta(s) // a non-object _meta carries no version; the server judges it
		default:
			if caseVariant(key, "name", "uri", "arguments", "protocolVersion", "ref", "_meta") {
				return errCaseVariant
			}
			_, _, err = s.value()
		}
		return err
	})
}

func (ms *msgScan) readRef(s *scanner) (field, error) {
	return s.object(func(key []byte) (err error) {
		switch string(key) {
		case "type":
			ms.refType, err = s.field()
		case "name":
			ms.refName, err = s.field()
		case "uri":
			ms.refURI, err = s.field()
		default:
			if caseVariant(key, "type", "name", "uri") {
				return errCaseVariant
			}
			_, _, err = s.value()
		}
		return err
	})
}

func (ms *msgScan) readMeta(s *scanner) (field, error) {
	return s.object(func(key []byte) (err error) {
		if string(key) == metaProtocolVersion {
			ms.meta, err = s.field()
			return err
		}
		_, _, err = s.value()
		return err
	})
}

// build checks the collected members against JSON-RPC 2.0 and MCP and fills m.
func (ms *msgScan) build(buf []byte, m *Message) *Error {
	if ms.id.present() {
		switch c := ms.id.first; {
		case c == '"' || c == '-' || (c >= '0' && c <= '9'):
			m.ID = buf[ms.id.start:ms.id.end]
		case c == 'n':
		default:
			return invalidRequest(`"id" must be a string or a number`)
		}
	}
	if !ms.jsonrpc.isString() || !ms.jsonrpc.escaped && string(buf[ms.jsonrpc.start:ms.jsonrpc.end]) != `"2.0"` ||
		ms.jsonrpc.escaped && stringValue(buf[ms.jsonrpc.start:ms.jsonrpc.end], true) != "2.0" {
		return invalidRequest(`"jsonrpc" must be "2.0"`)
	}
	if !ms.method.present() {
		return ms.buildResponse(m)
	}
	if ms.result.present() || ms.err.present() {
		return invalidRequest("a message cannot have both a method and a result or error")
	}
	if !ms.method.isString() || ms.method.end-ms.method.start == 2 {
		return invalidRequest(`"method" must be a non-empty string`)
	}
	raw := buf[ms.method.start:ms.method.end]
	if ms.method.escaped {
		m.Method, m.Known = knownMethod(appendUnescaped(make([]byte, 0, len(raw)), raw))
	} else {
		m.Method, m.Known = knownMethod(raw[1 : len(raw)-1])
	}
	switch {
	case m.ID != nil:
		m.Kind = KindRequest
	case ms.id.present(): // "id": null
		return invalidRequest(`a request "id" cannot be null`)
	default:
		m.Kind = KindNotification
	}
	if ms.params.present() && ms.params.first != '{' && ms.params.first != 'n' {
		return invalidParams(`"params" must be an object`)
	}
	return ms.target(buf, m)
}

func (ms *msgScan) buildResponse(m *Message) *Error {
	switch {
	case ms.result.present() && ms.err.present():
		return invalidRequest("a response cannot have both a result and an error")
	case !ms.result.present() && !ms.err.present():
		return invalidRequest(`a message needs a "method", a "result" or an "error"`)
	case !ms.id.present():
		return invalidRequest(`a response needs an "id"`)
	case m.ID == nil && ms.result.present():
		return invalidRequest(`a result response cannot have a null "id"`)
	case ms.err.present() && ms.err.first != '{':
		return invalidRequest(`"error" must be an object`)
	}
	m.Kind = KindResponse
	m.IsError = ms.err.present()
	return nil
}

// target extracts what the message acts on: Name, NameKind and Arguments.
func (ms *msgScan) target(buf []byte, m *Message) *Error {
	str := func(f field) string { return stringValue(buf[f.start:f.end], f.escaped) }
	switch m.Method {
	case MethodToolsCall, MethodPromptsGet:
		if !ms.name.isString() {
			return invalidParams("params.name must be a string")
		}
		m.Name, m.NameKind = str(ms.name), nameKindOf(m.Method)
		switch ms.args.first {
		case 0, 'n':
		case '{':
			m.Arguments = buf[ms.args.start:ms.args.end]
		default:
			return invalidParams("params.arguments must be an object")
		}
	case MethodResourcesRead, MethodResourcesSubscribe, MethodResourcesUnsubscribe:
		if !ms.uri.isString() {
			return invalidParams("params.uri must be a string")
		}
		m.Name, m.NameKind = str(ms.uri), NameResource
	case MethodCompletionComplete:
		if ms.ref.first != '{' || !ms.refType.isString() {
			return invalidParams("params.ref must be an object with a type")
		}
		switch str(ms.refType) {
		case "ref/prompt":
			if !ms.refName.isString() {
				return invalidParams("params.ref.name must be a string")
			}
			m.Name, m.NameKind = str(ms.refName), NamePrompt
		case "ref/resource":
			if !ms.refURI.isString() {
				return invalidParams("params.ref.uri must be a string")
			}
			m.Name, m.NameKind = str(ms.refURI), NameResource
		default:
			return invalidParams(`params.ref.type must be "ref/prompt" or "ref/resource"`)
		}
	default:
		if !m.Known {
			switch {
			case ms.name.isString():
				m.Name = str(ms.name)
			case ms.uri.isString():
				m.Name = str(ms.uri)
			}
		}
	}
	return nil
}
