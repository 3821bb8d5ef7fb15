package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file parses SCIM filters and attribute paths, derived from the ABNF
// of RFC 7644 §3.4.2.2 and §3.5.2 (see docs/decisions.md for why not a
// library):
//
//	FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//	valuePath = attrPath "[" valFilter "]"
//	attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//	logExp    = FILTER SP ("and" / "or") SP FILTER
//	compValue = false / null / true / number / string
//	attrPath  = [URI ":"] ATTRNAME *1subAttr
//	PATH      = attrPath / valuePath [subAttr]
//
// with "and" binding tighter than "or", parentheses for grouping, keywords
// and operators case-insensitive, and two extensions real clients need:
// Entra ID's `emails[type eq "work"].value eq "x"` (a value path with a
// sub-attribute compared), and a bare word as a string value.

// Limits that keep a hostile filter cheap to parse and to run.
const (
	maxFilterLen   = 4096
	maxFilterDepth = 20
)

// expr is a parsed filter.
type expr struct {
	op    string // "and", "or", "not", "pr", or a compareOp
	path  attrPath
	value any // string, json.Number, bool or nil
	sub   []*expr
	// inner is a value path's filter: path[inner], compared through
	// path.sub when op is a compareOp, or just present when op is "[]".
	inner *expr
}

// attrPath is [URI ":"] attr [. sub], attribute names as the client wrote
// them (they compare case-insensitively).
type attrPath struct {
	uri, attr, sub string
}

func (p attrPath) String() string {
	s := p.attr
	if p.uri != "" {
		s = p.uri + ":" + s
	}
	if p.sub != "" {
		s += "." + p.sub
	}
	return s
}

var compareOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "ge": true, "lt": true, "le": true}

type tokenKind int

const (
	tokWord tokenKind = iota
	tokString
	tokOpen   // (
	tokClose  // )
	tokLBrack // [
	tokRBrack // ]
	tokEOF
)

type token struct {
	kind tokenKind
	text string // a word as written, or a string's decoded value
	pos  int
}

func lex(s string) ([]token, error) {
	if len(s) > maxFilterLen {
		return nil, fmt.Errorf("longer than %d characters", maxFilterLen)
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return nil, fmt.Errorf("not valid UTF-8 text")
	}
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '[' || c == ']':
			kind := map[byte]tokenKind{'(': tokOpen, ')': tokClose, '[': tokLBrack, ']': tokRBrack}[c]
			toks = append(toks, token{kind: kind, text: string(c), pos: i})
			i++
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			var v string
			if err := json.Unmarshal([]byte(s[i:j+1]), &v); err != nil || strings.ContainsRune(v, 0) {
				return nil, fmt.Errorf("bad string at %d", i)
			}
			toks = append(toks, token{kind: tokString, text: v, pos: i})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()[]\"", rune(s[j])) {
				j++
			}
			toks = append(toks, token{kind: tokWord, text: s[i:j], pos: i})
			i = j
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(s)}), nil
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) keyword(t token, kw string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

// parseFilter parses a whole filter.
func parseFilter(s string) (*expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.or(false)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
	}
	return e, nil
}

// or parses "and"-terms joined by "or"; inValue says it is inside [...],
// where no value path may nest.
func (p *parser) or(inValue bool) (*expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, fmt.Errorf("nested more than %d levels deep", maxFilterDepth)
	}
	l, err := p.and(inValue)
	if err != nil {
		return nil, err
	}
	for p.keyword(p.peek(), "or") {
		p.next()
		r, err := p.and(inValue)
		if err != nil {
			return nil, err
		}
		l = &expr{op: "or", sub: []*expr{l, r}}
	}
	return l, nil
}

func (p *parser) and(inValue bool) (*expr, error) {
	l, err := p.unary(inValue)
	if err != nil {
		return nil, err
	}
	for p.keyword(p.peek(), "and") {
		p.next()
		r, err := p.unary(inValue)
		if err != nil {
			return nil, err
		}
		l = &expr{op: "and", sub: []*expr{l, r}}
	}
	return l, nil
}

func (p *parser) unary(inValue bool) (*expr, error) {
	t := p.peek()
	switch {
	case p.keyword(t, "not"):
		p.next()
		if p.peek().kind != tokOpen {
			return nil, fmt.Errorf(`"not" must be followed by "(" at %d`, p.peek().pos)
		}
		in, err := p.group(inValue)
		if err != nil {
			return nil, err
		}
		return &expr{op: "not", sub: []*expr{in}}, nil
	case t.kind == tokOpen:
		return p.group(inValue)
	case t.kind == tokWord:
		return p.attrExp(inValue)
	}
	return nil, fmt.Errorf("expected an attribute at %d", t.pos)
}

func (p *parser) group(inValue bool) (*expr, error) {
	p.next() // (
	e, err := p.or(inValue)
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tokClose {
		return nil, fmt.Errorf(`expected ")" at %d`, t.pos)
	}
	return e, nil
}

func (p *parser) attrExp(inValue bool) (*expr, error) {
	t := p.next()
	path, err := splitPath(t.text)
	if err != nil {
		return nil, fmt.Errorf("%v at %d", err, t.pos)
	}
	e := &expr{path: path}
	if p.peek().kind == tokLBrack {
		if inValue {
			return nil, fmt.Errorf("value filters cannot nest at %d", p.peek().pos)
		}
		if path.sub != "" {
			return nil, fmt.Errorf("a value filter follows an attribute, not a sub-attribute, at %d", p.peek().pos)
		}
		p.next()
		if e.inner, err = p.or(true); err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRBrack {
			return nil, fmt.Errorf(`expected "]" at %d`, t.pos)
		}
		// Entra ID: emails[type eq "work"].value eq "x"
		if n := p.peek(); n.kind == tokWord && strings.HasPrefix(n.text, ".") {
			p.next()
			sub := n.text[1:]
			if !validName(sub) {
				return nil, fmt.Errorf("bad sub-attribute %q at %d", sub, n.pos)
			}
			e.path.sub = sub
		} else {
			e.op = "[]"
			return e, nil
		}
	}
	opTok := p.next()
	if opTok.kind != tokWord {
		return nil, fmt.Errorf("expected an operator at %d", opTok.pos)
	}
	op := strings.ToLower(opTok.text)
	if op == "pr" {
		e.op = op
		return e, nil
	}
	if !compareOps[op] {
		return nil, fmt.Errorf("unknown operator %q at %d", opTok.text, opTok.pos)
	}
	e.op = op
	v := p.next()
	switch v.kind {
	case tokString:
		e.value = v.text
	case tokWord:
		switch strings.ToLower(v.text) {
		case "true":
			e.value = true
		case "false":
			e.value = false
		case "null":
			e.value = nil
		default:
			if _, err := strconv.ParseFloat(v.text, 64); err == nil {
				e.value = json.Number(v.text)
			} else {
				e.value = v.text // a bare word: read as the string it spells
			}
		}
	default:
		return nil, fmt.Errorf("expected a value at %d", v.pos)
	}
	return e, nil
}

// splitPath reads [URI ":"] ATTRNAME ["." subAttr]. A URI's own dots
// ("2.0") come before its last colon.
func splitPath(s string) (attrPath, error) {
	var p attrPath
	rest := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		p.uri, rest = s[:i], s[i+1:]
		if !strings.HasPrefix(strings.ToLower(p.uri), "urn:") {
			return p, fmt.Errorf("bad attribute %q", s)
		}
	}
	p.attr, p.sub, _ = strings.Cut(rest, ".")
	if !validName(p.attr) || (p.sub != "" && !validName(p.sub)) || strings.HasSuffix(rest, ".") {
		return p, fmt.Errorf("bad attribute %q", s)
	}
	return p, nil
}

// validName is RFC 7643's ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA
// ("$ref" is the one name allowed to start otherwise).
func validName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" || len(s) > 128 {
		return false
	}
	for i, c := range s {
		alpha := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !alpha && (i == 0 || !(c == '-' || c == '_' || (c >= '0' && c <= '9'))) {
			return false
		}
	}
	return true
}

// patchPath is a PATCH operation's path: attrPath, or valuePath with an
// optional sub-attribute.
type patchPath struct {
	attrPath
	filter *expr // the value filter of attr[filter], if any
}

// parsePath parses a PATCH path (RFC 7644 §3.5.2 PATH).
func parsePath(s string) (*patchPath, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	t := p.next()
	if t.kind != tokWord {
		return nil, fmt.Errorf("expected an attribute")
	}
	ap, err := splitPath(t.text)
	if err != nil {
		return nil, err
	}
	pp := &patchPath{attrPath: ap}
	if p.peek().kind == tokLBrack {
		if ap.sub != "" {
			return nil, fmt.Errorf("a value filter follows an attribute, not a sub-attribute")
		}
		p.next()
		if pp.filter, err = p.or(true); err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRBrack {
			return nil, fmt.Errorf(`expected "]" at %d`, t.pos)
		}
		if n := p.peek(); n.kind == tokWord && strings.HasPrefix(n.text, ".") {
			p.next()
			if !validName(n.text[1:]) {
				return nil, fmt.Errorf("bad sub-attribute %q", n.text[1:])
			}
			pp.sub = n.text[1:]
		}
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
	}
	return pp, nil
}
