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

// optString is a string member that may be absent.
type optString struct {
	value   string
	present bool
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

// bodyFields carries what the header checks need beyond the Messages themselves.
type bodyFields struct {
	meta0       optString   // params._meta protocolVersion of the first message
	metas       []optString // the same for every message of a batch
	initVersion string      // params.protocolVersion of the first initialize request
	mirror      optString   // params.name, else params.uri, of the first message: the source of Mcp-Name
}

func (f *bodyFields) metaVersion(i int) optString {
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
		f.metas = make([]optString, 0, 8)
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
			f.metas = append(f.metas, optString{})
			continue
		}
		r.Messages = append(r.Messages, Message{})
		f.metas = append(f.metas, optString{})
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
	mark, err := s.enterObject()
	if err != nil {
		return nil, err
	}
	var set map[string]struct{}
	for {
		key, done, err := s.member(mark, &set)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		switch string(key) {
		case "jsonrpc":
			ms.jsonrpc, err = s.field()
		case "id":
			ms.id, err = s.field()
		case "method":
			ms.method, err = s.field()
		case "params":
			err = ms.readParams(s)
		case "result":
			ms.result, err = s.field()
		case "error":
			ms.err, err = s.field()
		default:
			_, _, err = s.value()
		}
		if err != nil {
			return nil, err
		}
	}
	e := ms.build(s.buf, m)
	if e != nil {
		return withID(e, m.ID), nil
	}
	meta := optString{}
	if ms.meta.present() {
		if !ms.meta.isString() {
			return withID(invalidParams("params._meta protocolVersion must be a string"), m.ID), nil
		}
		meta = optString{value: stringValue(s.buf[ms.meta.start:ms.meta.end], ms.meta.escaped), present: true}
	}
	if f.metas != nil {
		f.metas[index] = meta
	} else {
		f.meta0 = meta
	}
	if index == 0 {
		switch {
		case ms.name.isString():
			f.mirror = optString{value: stringValue(s.buf[ms.name.start:ms.name.end], ms.name.escaped), present: true}
		case ms.uri.isString():
			f.mirror = optString{value: stringValue(s.buf[ms.uri.start:ms.uri.end], ms.uri.escaped), present: true}
		}
	}
	if m.Method == MethodInitialize && m.Kind == KindRequest && f.initVersion == "" && ms.proto.isString() {
		f.initVersion = stringValue(s.buf[ms.proto.start:ms.proto.end], ms.proto.escaped)
	}
	return nil, nil
}

func (ms *msgScan) readParams(s *scanner) error {
	if s.peek() != '{' {
		var err error
		ms.params, err = s.field()
		return err
	}
	ms.params = field{start: s.pos, first: '{'}
	mark, err := s.enterObject()
	if err != nil {
		return err
	}
	var set map[string]struct{}
	for {
		key, done, err := s.member(mark, &set)
		if err != nil {
			return err
		}
		if done {
			ms.params.end = s.pos
			return nil
		}
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
			err = ms.readRef(s)
		case "_meta":
			err = ms.readMeta(s)
		default:
			_, _, err = s.value()
		}
		if err != nil {
			return err
		}
	}
}

func (ms *msgScan) readRef(s *scanner) error {
	if s.peek() != '{' {
		var err error
		ms.ref, err = s.field()
		return err
	}
	ms.ref = field{start: s.pos, first: '{'}
	mark, err := s.enterObject()
	if err != nil {
		return err
	}
	var set map[string]struct{}
	for {
		key, done, err := s.member(mark, &set)
		if err != nil {
			return err
		}
		if done {
			ms.ref.end = s.pos
			return nil
		}
		switch string(key) {
		case "type":
			ms.refType, err = s.field()
		case "name":
			ms.refName, err = s.field()
		case "uri":
			ms.refURI, err = s.field()
		default:
			_, _, err = s.value()
		}
		if err != nil {
			return err
		}
	}
}

func (ms *msgScan) readMeta(s *scanner) error {
	if s.peek() != '{' {
		_, _, err := s.value() // a non-object _meta carries no version; the server judges it
		return err
	}
	mark, err := s.enterObject()
	if err != nil {
		return err
	}
	var set map[string]struct{}
	for {
		key, done, err := s.member(mark, &set)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if string(key) == metaProtocolVersion {
			ms.meta, err = s.field()
		} else {
			_, _, err = s.value()
		}
		if err != nil {
			return err
		}
	}
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
