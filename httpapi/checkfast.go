package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// checkPath is the access check's path: the API's hottest route.
const checkPath = Prefix + "/access"

// checkFast is the access check's operation as huma registered it, for
// serveCheck; nil turns serveCheck off (tests set it so to compare).
type checkFast struct {
	op      *huma.Operation
	pattern string
}

// serveCheck answers an access check whose input huma would decode
// without a complaint, doing what the operation huma registered does,
// step for step (the same middleware, core call and answer, written
// through the API's own negotiation, transformers and marshaller), but
// without huma's per-request reflection over the input and output types,
// which cost a check more CPU than all the rest of this package's work
// on it. It reports false, having done nothing, for any request it does
// not take (another route, a query huma would refuse or this package
// would refuse before the core call, an Accept that is not JSON): the
// operation huma registered answers those.
func (h *handler) serveCheck(w http.ResponseWriter, r *http.Request) bool {
	in, query, ok := h.checkInput(r)
	if !ok {
		return false
	}
	r.Pattern = h.check.pattern // as the mux would set it, for the access line and the metrics
	ctx := humago.NewContext(h.check.op, r, w)
	c, rctx, ok := h.begin(ctx, query)
	if !ok {
		return true
	}
	c.reached = true
	out, err := h.checkAccess(rctx, c.actor, in)
	if err != nil {
		h.writeOperationError(ctx, problem(c, err))
		return true
	}
	ctx.SetHeader("Content-Type", "application/json")
	h.transformAndWrite(ctx, h.check.op.DefaultStatus, "application/json", out.Body)
	return true
}

// checkInput is the input of an access check serveCheck takes, and its
// query; false for any other request.
func (h *handler) checkInput(r *http.Request) (*accessInput, url.Values, bool) {
	if h.check.op == nil || r.Method != http.MethodGet || r.URL.Path != checkPath {
		return nil, nil, false
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(query) != 2 {
		return nil, nil, false
	}
	member, resource := query["member"], query["resource"]
	// huma takes a parameter's first value; one each leaves no doubt. Its
	// maxLength counts characters, so a byte length within it is too.
	if len(member) != 1 || len(resource) != 1 || member[0] == "" || resource[0] == "" ||
		len(resource[0]) > 36 || !accessRequestReachesCheck(query) {
		return nil, nil, false
	}
	if ct, err := h.api.Negotiate(r.Header.Get("Accept")); err != nil || ct != "application/json" {
		return nil, nil, false
	}
	return &accessInput{Member: member[0], Resource: resource[0]}, query, true
}

// writeOperationError answers an operation's error as huma.Register does.
func (h *handler) writeOperationError(ctx huma.Context, err error) {
	var he huma.HeadersError
	if errors.As(err, &he) {
		for k, values := range he.GetHeaders() {
			for _, v := range values {
				ctx.AppendHeader(k, v)
			}
		}
	}
	var se huma.StatusError
	if !errors.As(err, &se) {
		se = huma.NewErrorWithContext(ctx, http.StatusInternalServerError, "unexpected error occurred", err)
	}
	ct, _ := h.api.Negotiate(ctx.Header("Accept"))
	if ctf, ok := se.(huma.ContentTypeFilter); ok {
		ct = ctf.ContentType(ct)
	}
	ctx.SetHeader("Content-Type", ct)
	h.transformAndWrite(ctx, se.GetStatus(), ct, se)
}

// transformAndWrite writes an answer's status and body as huma does,
// panicking as huma does (for respond.Recover) when it cannot.
func (h *handler) transformAndWrite(ctx huma.Context, status int, ct string, body any) {
	v, err := h.api.Transform(ctx, strconv.Itoa(status), body)
	if err != nil {
		panic(err)
	}
	ctx.SetStatus(status)
	if err := h.api.Marshal(ctx.BodyWriter(), ct, v); err != nil {
		if errors.Is(ctx.Context().Err(), context.Canceled) {
			ctx.SetStatus(499) // the client is gone
			return
		}
		panic(err)
	}
}
