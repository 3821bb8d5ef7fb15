package httpapi

import (
	"encoding/json"
	"html"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/membership"
)

// openapiDoc is the part of an OpenAPI document these tests read.
type openapiDoc struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		OperationID string                `json:"operationId"`
		Security    []map[string][]string `json:"security"`
		Parameters  []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		Responses map[string]struct {
			Content map[string]any `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
}

func TestOpenAPI(t *testing.T) {
	e := newEnv(t)
	r := e.call("GET", "/openapi.json", "", nil)
	if r.Status != 200 || !strings.Contains(r.Header.Get("Content-Type"), "json") {
		t.Fatalf("/openapi.json: %s", r)
	}
	var doc openapiDoc
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("/openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1.x", doc.OpenAPI)
	}

	// Every pattern on the mux under /api/v1 is in the document, and the
	// document names nothing the mux does not serve.
	var served, documented []string
	for _, p := range e.h.routes {
		if method, path, ok := strings.Cut(p, " "); ok && strings.HasPrefix(path, Prefix+"/") {
			served = append(served, method+" "+path)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	if diff := cmp.Diff(documented, served); diff != "" {
		t.Fatalf("document and mux disagree (-documented +served):\n%s", diff)
	}
	if len(served) < 40 {
		t.Fatalf("only %d routes served", len(served))
	}
	t.Logf("%d operations under %s", len(served), Prefix)

	scopes := map[string]bool{}
	for _, s := range membership.AllScopes() {
		scopes[s] = true
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			name := strings.ToUpper(method) + " " + path
			if len(op.Security) != 1 || len(op.Security[0][securityScheme]) != 1 || !scopes[op.Security[0][securityScheme][0]] {
				t.Errorf("%s: security %v, want one bearer scope", name, op.Security)
			}
			hasKey := false
			for _, p := range op.Parameters {
				hasKey = hasKey || (p.Name == "Idempotency-Key" && p.In == "header")
			}
			if hasKey != mutating(strings.ToUpper(method)) {
				t.Errorf("%s: documents Idempotency-Key %v, want %v", name, hasKey, !hasKey)
			}
			for _, code := range []string{"401", "403", "404"} {
				if _, ok := op.Responses[code].Content["application/problem+json"]; !ok {
					t.Errorf("%s: response %s is not documented as problem+json", name, code)
				}
			}
		}
	}

	page := e.call("GET", "/docs", "", nil)
	if ct := page.Header.Get("Content-Type"); page.Status != 200 || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("/docs: %d %q", page.Status, ct)
	}
	for path := range doc.Paths {
		if !strings.Contains(string(page.Body), html.EscapeString(path)) {
			t.Errorf("/docs does not list %s", path)
		}
	}
}

// TestDocument holds Document to the bytes /openapi.json serves, so what
// CI lints is what clients get.
func TestDocument(t *testing.T) {
	e := newEnv(t)
	r := e.call("GET", "/openapi.json", "", nil)
	doc, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	if string(doc) != string(r.Body) {
		t.Fatalf("Document differs from /openapi.json (%d bytes, served %d)", len(doc), len(r.Body))
	}
	var d struct {
		Servers []struct{ URL string } `json:"servers"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || len(d.Servers) != 1 || d.Servers[0].URL != "/" {
		t.Fatalf("servers %+v (%v), want one at /", d.Servers, err)
	}
}
