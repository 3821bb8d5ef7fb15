package httpapi

import (
	"net/url"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/memberd/memberd/membership"
)

// unknownQuery refuses a query parameter the operation does not declare.
// huma ignores one, so a misspelt filter (?membr=12) would silently answer
// with everything; a 400 says what was wrong instead.
func unknownQuery(op *huma.Operation, q url.Values) error {
	for name := range q {
		if !slices.ContainsFunc(op.Parameters, func(p *huma.Param) bool { return p.In == "query" && p.Name == name }) {
			return membership.Errorf(membership.CodeInvalid, "unknown query parameter %q", name)
		}
	}
	return nil
}

// pathTarget is the event target the operation's path names, as the
// client sent it: a refusal records it even when it names nothing.
func pathTarget(ctx huma.Context) (membership.EventTarget, bool) {
	var t membership.EventTarget
	if m := ctx.Param("member"); m != "" {
		t = membership.MemberTarget(parseMemberRef(m))
	}
	for _, kind := range []string{"space", "group"} {
		if v := ctx.Param(kind); v != "" {
			if ref, ok := parseRef(v); ok {
				t.Type, t.Ref = kind, ref
			}
		}
	}
	if t.Type == "" && t.Member == (membership.MemberRef{}) {
		return t, false
	}
	return t, true
}
