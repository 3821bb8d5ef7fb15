package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/memberd/memberd/internal/etag"
	"github.com/memberd/memberd/membership"
)

// ETags and conditional requests. A member, a space, a group and a space
// or group membership answer GET with a strong ETag, a digest of the very
// representation sent (membership.ETagOf), and GET with If-None-Match
// naming it (or "*") with 304 and no body. PATCH of a member and DELETE of
// a member or a space or group membership honour If-Match: the core
// compares it inside the change's transaction, with the row locked, so
// that a change made between a client's GET and its write is refused with
// 412 and nothing changes. A removal's If-Match may also name the plan tag
// of its dry run (plans.go); the middleware hands the core the header.

// representation is an answer that shows one resource with its ETag; its
// Status is 304, with no body, when the client already holds that tag.
type representation[T any] struct {
	ETag   string `header:"ETag" doc:"The strong entity tag of this representation: send it in If-None-Match to get 304 while it is current, or in If-Match to change or remove the resource only while it is."`
	Status int
	Body   T
}

// represent answers v with its ETag, or with 304 when the request is a GET
// (or HEAD, which the mux serves with GET's handler) whose If-None-Match names that tag (by the weak comparison RFC 9110
// prescribes) or is "*".
func represent[T any](ctx context.Context, v T, err error) (*representation[T], error) {
	if err != nil {
		return nil, err
	}
	tag := membership.ETagOf(v)
	if c, ok := ctx.Value(callKey{}).(*call); ok && (c.r.Method == http.MethodGet || c.r.Method == http.MethodHead) {
		l, err := etag.Parse(c.r.Header.Values("If-None-Match")...)
		if err != nil {
			return nil, membership.Errorf(membership.CodeInvalid, "If-None-Match %v", err)
		}
		if l.MatchWeak(tag) {
			return &representation[T]{ETag: tag, Status: http.StatusNotModified}, nil
		}
	}
	return &representation[T]{ETag: tag, Status: http.StatusOK, Body: v}, nil
}

// ifMatch is the If-Match the middleware hands the core: every field line
// the request carried, as one list.
func ifMatch(r *http.Request) string {
	return strings.Join(r.Header.Values("If-Match"), ", ")
}

// Which operations take which conditional header, by operation id.
var (
	// ifNoneMatchOps answer GET with an ETag and honour If-None-Match.
	ifNoneMatchOps = map[string]bool{"get-member": true, "get-space": true, "get-group": true,
		"get-space-membership": true, "get-group-member": true}
	// ifMatchOps honour If-Match with the resource's ETag; the removals
	// among them with a dry run's plan tag too.
	ifMatchOps = map[string]string{
		"update-member":       resourceIfMatch,
		"remove-member":       removalIfMatch,
		"offboard-member":     removalIfMatch,
		"remove-space-member": removalIfMatch,
		"revoke-space-roles":  removalIfMatch,
		"remove-group-member": removalIfMatch,
		"remove-batch":        "Run the batch only while it would do exactly what its dry run (dry_run) answered: the dry run's ETag. Otherwise 412, naming what changed, and nothing is removed.",
	}
)

const (
	resourceIfMatch = "Change the resource only while its ETag (from GET or the last change) is one of these, or \"*\". Otherwise 412 and nothing changes."
	removalIfMatch  = "Remove only while the resource removed (the member, or the space or group membership) still has this ETag from GET, or while the removal would do exactly what its dry run answered (the dry run's ETag); \"*\" matches any. Otherwise 412, naming what changed, and nothing is removed."
)

// documentConditional writes into the registered operations the
// conditional headers they honour and the answers those headers bring.
func (h *handler) documentConditional() {
	str := &huma.Schema{Type: huma.TypeString}
	etagHeader := &huma.Param{Description: "The entity tag of what the answer shows.", Schema: str}
	for _, item := range h.api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Patch, item.Post, item.Delete} {
			if op == nil {
				continue
			}
			if ifNoneMatchOps[op.OperationID] {
				op.Parameters = append(op.Parameters, &huma.Param{Name: "If-None-Match", In: "header", Schema: str,
					Description: "Answer 304 with no body while the resource's ETag is one of these (compared weakly), or, with \"*\", while it exists."})
				op.Responses["304"] = &huma.Response{Description: "Not Modified: the ETag named in If-None-Match is current.",
					Headers: map[string]*huma.Param{"ETag": etagHeader}}
			}
			doc, ok := ifMatchOps[op.OperationID]
			if !ok {
				continue
			}
			op.Parameters = append(op.Parameters, &huma.Param{Name: "If-Match", In: "header", Schema: str, Description: doc})
			problem := op.Responses["409"]
			op.Responses["412"] = &huma.Response{Description: "Precondition Failed: If-Match names no current ETag; the problem's detail says what changed.",
				Content: problem.Content}
			if ok := op.Responses["200"]; ok != nil && ok.Headers["ETag"] == nil {
				if ok.Headers == nil {
					ok.Headers = map[string]*huma.Param{}
				}
				ok.Headers["ETag"] = &huma.Param{Description: "With If-Match or dry_run: the removal's plan tag, to run its dry run with If-Match.", Schema: str}
			}
		}
	}
}
