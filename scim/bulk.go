package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/memberd/memberd/auth"
)

// bulk answers POST /Bulk (RFC 7644 §3.7): each operation runs as the call
// it names, in order, each in its own transaction; "bulkId:x" anywhere in
// a later operation's path or data stands for the id operation x created.
// failOnErrors stops after that many failures. A reference to an
// operation that has not run (or failed) fails with 409.
func (h *handler) bulk(ctx context.Context, c *auth.Call, q *request) *answer {
	obj, err := decodeObject(q.body)
	if err != nil {
		return &answer{err: err}
	}
	if err := checkSchemas(obj, msgBulkRequest); err != nil {
		return &answer{err: err}
	}
	failOn := 0
	if raw, ok := field(obj, "failOnErrors"); ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &failOn); err != nil || failOn < 1 {
			return &answer{err: badRequest("invalidValue", "failOnErrors must be a positive integer")}
		}
	}
	raw, _ := field(obj, "Operations")
	var ops []json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		return &answer{err: badRequest("invalidSyntax", "Operations must be a list")}
	}
	if len(ops) > MaxBulkOperations {
		return &answer{err: &scimError{status: http.StatusRequestEntityTooLarge,
			detail: "a bulk request holds at most " + strconv.Itoa(MaxBulkOperations) + " operations"}}
	}
	ids := map[string]string{} // bulkId → created id
	results := []map[string]any{}
	failures := 0
	for _, raw := range ops {
		if failOn > 0 && failures >= failOn {
			break
		}
		res := h.bulkOp(ctx, c, q, raw, ids)
		if res.status >= 400 {
			failures++
		}
		out := map[string]any{"method": res.method, "status": strconv.Itoa(res.status)}
		if res.bulkID != "" {
			out["bulkId"] = res.bulkID
		}
		if res.location != "" {
			out["location"] = res.location
		}
		if res.version != "" {
			out["version"] = res.version
		}
		if res.response != nil {
			out["response"] = res.response
		}
		results = append(results, out)
	}
	return &answer{status: http.StatusOK, body: map[string]any{"schemas": []string{msgBulkResponse}, "Operations": results}}
}

type bulkResult struct {
	method, bulkID, location, version string
	status                            int
	response                          any
}

func (h *handler) bulkOp(ctx context.Context, c *auth.Call, q *request, raw json.RawMessage, ids map[string]string) bulkResult {
	var op struct {
		Method  string          `json:"method"`
		BulkID  string          `json:"bulkId"`
		Path    string          `json:"path"`
		Version string          `json:"version"`
		Data    json.RawMessage `json:"data"`
	}
	fail := func(res bulkResult, err error) bulkResult {
		if !isCoreRefusal(err) {
			_ = c.Refuse(err)
		}
		a := errorAnswer(q.http, err)
		res.status, res.response = a.status, a.body
		return res
	}
	if err := json.Unmarshal(raw, &op); err != nil {
		return fail(bulkResult{}, badRequest("invalidSyntax", "each operation must be an object with method and path"))
	}
	res := bulkResult{method: op.Method, bulkID: op.BulkID}
	method := strings.ToUpper(op.Method)
	if method != http.MethodPost && method != http.MethodPut && method != http.MethodPatch && method != http.MethodDelete {
		return fail(res, badRequest("invalidValue", "method must be POST, PUT, PATCH or DELETE"))
	}
	if method == http.MethodPost && op.BulkID == "" {
		return fail(res, badRequest("invalidValue", "a POST needs a bulkId"))
	}
	// Resolve bulkId references in the path and the data.
	unresolved := ""
	resolve := func(s string) string {
		for {
			i := strings.Index(s, "bulkId:")
			if i < 0 {
				return s
			}
			j := i + len("bulkId:")
			k := j
			for k < len(s) && s[k] != '"' && s[k] != '/' && s[k] != '?' {
				k++
			}
			id, ok := ids[s[j:k]]
			if !ok {
				unresolved = s[j:k]
				return s
			}
			s = s[:i] + id + s[k:]
		}
	}
	path := resolve(op.Path)
	data := []byte(resolve(string(op.Data)))
	if unresolved != "" {
		return fail(res, &scimError{status: http.StatusConflict, scimType: "invalidValue",
			detail: "bulkId " + strconv.Quote(unresolved) + " does not name an operation that succeeded earlier"})
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	sub := &request{method: method, resource: parts[0], body: data, ifMatch: op.Version, base: q.base, query: map[string][]string{}, http: q.http}
	if len(parts) == 2 {
		sub.id = parts[1]
		if !validID(sub.id) {
			return fail(res, &scimError{status: http.StatusNotFound, detail: "no such resource"})
		}
	}
	if _, ok := actionOf(sub); !ok || len(parts) > 2 || sub.resource == "Bulk" {
		return fail(res, badRequest("invalidPath", "path %q does not name a resource this method applies to", op.Path))
	}
	a := h.exec(ctx, c, sub)
	if a.err != nil {
		return fail(res, a.err)
	}
	res.status, res.location, res.version = a.status, a.loc, a.etag
	if res.location == "" && sub.id != "" && method != http.MethodDelete {
		res.location = q.base + "/" + sub.resource + "/" + sub.id
	}
	if method == http.MethodPost {
		if r, ok := a.body.(resource); ok {
			if id, ok := r["id"].(string); ok {
				ids[op.BulkID] = id
			}
		}
	}
	return res
}
