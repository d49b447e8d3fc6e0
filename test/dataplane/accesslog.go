package dataplane

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
)

const accessLoggerStdout = "envoy.access_loggers.stdout"

// accessLog is a stdout access logger with a JSON format: each key's value is a format string of command
// operators (%RESPONSE_CODE%, %REQ(X-REQUEST-ID)%, ...) and literal text.
type accessLog struct {
	keys   []string
	fields map[string][]piece
}

// piece is literal text or one command operator with its argument.
type piece struct {
	text string
	op   string
	arg  string
}

var operatorRE = regexp.MustCompile(`%([A-Z_]+)(?:\(([^)]*)\))?%`)

// operators are the command operators the data plane can render, and whether each renders a number.
var operators = map[string]bool{
	"START_TIME": false, "DURATION": true, "RESPONSE_CODE": true, "RESPONSE_CODE_DETAILS": false,
	"RESPONSE_FLAGS": false, "BYTES_RECEIVED": true, "BYTES_SENT": true, "PROTOCOL": false, "ROUTE_NAME": false,
	"UPSTREAM_CLUSTER": false, "UPSTREAM_HOST": false, "DOWNSTREAM_REMOTE_ADDRESS": false,
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": false, "REQ": false, "RESP": false, "DYNAMIC_METADATA": false,
}

func buildAccessLog(al *accesslogv3.AccessLog) (*accessLog, error) {
	if err := only(al, "name", "typed_config"); err != nil {
		return nil, err
	}
	if al.GetName() != accessLoggerStdout {
		return nil, fmt.Errorf("access logger %q: %w", al.GetName(), ErrUnsupported)
	}
	var s streamv3.StdoutAccessLog
	if err := unpack(al.GetTypedConfig(), &s); err != nil {
		return nil, err
	}
	if err := only(&s, "log_format"); err != nil {
		return nil, err
	}
	f := s.GetLogFormat()
	if err := only(f, "json_format"); err != nil {
		return nil, err
	}
	out := &accessLog{fields: map[string][]piece{}}
	for k, v := range f.GetJsonFormat().GetFields() {
		str, ok := v.GetKind().(*structpb.Value_StringValue)
		if !ok {
			return nil, fmt.Errorf("access log field %q is not a format string: %w", k, ErrUnsupported)
		}
		ps, err := parseFormat(str.StringValue)
		if err != nil {
			return nil, fmt.Errorf("access log field %q: %w", k, err)
		}
		out.keys = append(out.keys, k)
		out.fields[k] = ps
	}
	sort.Strings(out.keys)
	return out, nil
}

func parseFormat(s string) ([]piece, error) {
	var ps []piece
	last := 0
	for _, m := range operatorRE.FindAllStringSubmatchIndex(s, -1) {
		if m[0] > last {
			ps = append(ps, piece{text: s[last:m[0]]})
		}
		op := s[m[2]:m[3]]
		arg := ""
		if m[4] >= 0 {
			arg = s[m[4]:m[5]]
		}
		if _, ok := operators[op]; !ok {
			return nil, fmt.Errorf("command operator %%%s%%: %w", op, ErrUnsupported)
		}
		if (op == "REQ" || op == "RESP" || op == "DYNAMIC_METADATA") && arg == "" {
			return nil, fmt.Errorf("command operator %%%s%% needs an argument: %w", op, ErrInvalid)
		}
		if op == "DYNAMIC_METADATA" && !strings.Contains(arg, ":") {
			return nil, fmt.Errorf("%%DYNAMIC_METADATA(%s)%% needs namespace:key: %w", arg, ErrUnsupported)
		}
		ps = append(ps, piece{op: op, arg: arg})
		last = m[1]
	}
	if last < len(s) {
		ps = append(ps, piece{text: s[last:]})
	}
	return ps, nil
}

// exchange is what the access log knows about one request when it ends.
type exchange struct {
	start        time.Time
	end          time.Time
	req          *http.Request
	respHeader   http.Header
	status       int
	details      string
	flags        string
	route        string
	cluster      string
	upstreamHost string
	bytesIn      int64
	bytesOut     int64
	metadata     map[string]*structpb.Struct
}

// render writes one JSON line.
func (a *accessLog) render(x *exchange) []byte {
	obj := make(map[string]any, len(a.keys))
	for _, k := range a.keys {
		ps := a.fields[k]
		if len(ps) == 1 && ps[0].op != "" {
			obj[k] = x.value(ps[0], true)
			continue
		}
		var b strings.Builder
		for _, p := range ps {
			if p.op == "" {
				b.WriteString(p.text)
				continue
			}
			v := x.value(p, false)
			if v == nil {
				b.WriteString("-")
			} else {
				fmt.Fprint(&b, v)
			}
		}
		obj[k] = b.String()
	}
	line, _ := json.Marshal(obj)
	return append(line, '\n')
}

// value renders one operator: a number for numeric operators when typed, nil when the value is absent.
func (x *exchange) value(p piece, typed bool) any {
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	num := func(n int64) any {
		if typed && operators[p.op] {
			return n
		}
		return strconv.FormatInt(n, 10)
	}
	switch p.op {
	case "START_TIME":
		return x.start.UTC().Format("2006-01-02T15:04:05.000Z")
	case "DURATION":
		return num(x.end.Sub(x.start).Milliseconds())
	case "RESPONSE_CODE":
		return num(int64(x.status))
	case "RESPONSE_CODE_DETAILS":
		return str(x.details)
	case "RESPONSE_FLAGS":
		if x.flags == "" {
			return "-"
		}
		return x.flags
	case "BYTES_RECEIVED":
		return num(x.bytesIn)
	case "BYTES_SENT":
		return num(x.bytesOut)
	case "PROTOCOL":
		return x.req.Proto
	case "ROUTE_NAME":
		return str(x.route)
	case "UPSTREAM_CLUSTER":
		return str(x.cluster)
	case "UPSTREAM_HOST":
		return str(x.upstreamHost)
	case "DOWNSTREAM_REMOTE_ADDRESS":
		return x.req.RemoteAddr
	case "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT":
		h, _, err := net.SplitHostPort(x.req.RemoteAddr)
		if err != nil {
			return x.req.RemoteAddr
		}
		return h
	case "REQ":
		return headerOperator(x.req.Header, x.req, p.arg)
	case "RESP":
		return headerOperator(x.respHeader, nil, p.arg)
	case "DYNAMIC_METADATA":
		ns, key, _ := strings.Cut(p.arg, ":")
		v, ok := x.metadata[ns].GetFields()[key]
		if !ok {
			return nil
		}
		return v.AsInterface()
	}
	return nil
}

// headerOperator renders %REQ(A?B)%: the first header present; the pseudo-headers :path, :method and :authority
// come from the request line.
func headerOperator(h http.Header, r *http.Request, arg string) any {
	for _, name := range strings.Split(arg, "?") {
		name = strings.TrimSpace(name)
		if r != nil {
			switch strings.ToLower(name) {
			case ":path":
				return r.URL.RequestURI()
			case ":method":
				return r.Method
			case ":authority":
				return r.Host
			}
		}
		if v := h.Values(name); len(v) > 0 {
			return strings.Join(v, ",")
		}
	}
	return nil
}
