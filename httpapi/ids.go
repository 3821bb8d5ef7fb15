package httpapi

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/memberd/memberd/internal/ids"
)

// canonicalIntegers refuses, before huma decodes them, path and query
// integers that are not written in ids' one canonical form: huma parses
// them with strconv, which reads "+1" and "007" as 1 and 7, so a
// credential could name an entity by a spelling it was never given. Every
// integer parameter of the API is an id, a cursor or a count, none of
// which is written with a sign or a leading zero.
func (h *handler) canonicalIntegers(ctx huma.Context, next func(huma.Context)) {
	for _, p := range ctx.Operation().Parameters {
		if p.Schema == nil || p.Schema.Type != huma.TypeInteger || (p.In != "path" && p.In != "query") {
			continue
		}
		v := ctx.Query(p.Name)
		if p.In == "path" {
			v = ctx.Param(p.Name)
		}
		if _, ok := ids.Parse(v); v != "" && !ok {
			_ = huma.WriteErr(h.api, ctx, http.StatusUnprocessableEntity, "validation failed", &huma.ErrorDetail{ // the client is gone if this fails
				Location: p.In + "." + p.Name, Message: "expected an unsigned decimal integer without leading zeros", Value: v,
			})
			return
		}
	}
	next(ctx)
}
