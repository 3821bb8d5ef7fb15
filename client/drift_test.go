package client

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/memberd/memberd/httpapi"
)

// document is the part of the OpenAPI document the drift test reads.
type document struct {
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Parameters  []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		RequestBody *struct {
			Content map[string]struct {
				Schema schema `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]schema `json:"schemas"`
	} `json:"components"`
}

type schema struct {
	Ref        string         `json:"$ref"`
	Properties map[string]any `json:"properties"`
	Required   []string       `json:"required"`
}

// TestEndpointsMatchDocument holds every endpoint the client calls to the
// OpenAPI document the server serves (httpapi.Document is the bytes of
// /openapi.json): the operation exists at the same method and path, each
// path argument, query field and body field is a parameter or property
// the document names, and each property the document requires is sent.
// It also fails when the API gains an operation the client lacks.
func TestEndpointsMatchDocument(t *testing.T) {
	raw, err := httpapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc document
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	called := map[string]bool{}
	for _, e := range endpoints {
		called[e.ID] = true
		op, ok := doc.Paths[e.Path][strings.ToLower(e.Method)]
		if !ok {
			t.Errorf("%s: the document has no %s %s", e.ID, e.Method, e.Path)
			continue
		}
		if op.OperationID != e.ID {
			t.Errorf("%s %s: operation %q, the client calls it %q", e.Method, e.Path, op.OperationID, e.ID)
		}
		params := map[string]bool{}
		for _, p := range op.Parameters {
			params[p.In+" "+p.Name] = true
		}
		for _, name := range pathParams(e.Path) {
			if !params["path "+name] {
				t.Errorf("%s: path parameter %s is not documented", e.ID, name)
			}
		}
		for _, name := range fieldNames(e.Query, "query") {
			if !params["query "+name] {
				t.Errorf("%s: query parameter %s is not documented", e.ID, name)
			}
		}
		if e.mutating() && !params["header Idempotency-Key"] {
			t.Errorf("%s: Idempotency-Key is not documented", e.ID)
		}
		if e.Body == nil {
			if op.RequestBody != nil && e.Method != "DELETE" {
				// A body the client never sends is fine only if it is optional.
				t.Logf("%s: the document takes a body the client does not send", e.ID)
			}
			continue
		}
		if op.RequestBody == nil {
			t.Errorf("%s: the client sends a body the document does not take", e.ID)
			continue
		}
		body := op.RequestBody.Content["application/json"].Schema
		if name, ok := strings.CutPrefix(body.Ref, "#/components/schemas/"); ok {
			body = doc.Components.Schemas[name]
		}
		sent := fieldNames(e.Body, "json")
		for _, name := range sent {
			if _, ok := body.Properties[name]; !ok {
				t.Errorf("%s: body field %s is not in the document", e.ID, name)
			}
		}
		for _, name := range body.Required {
			if !slices.Contains(sent, name) {
				t.Errorf("%s: the document requires body field %s, the client cannot send it", e.ID, name)
			}
		}
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if !called[op.OperationID] {
				t.Errorf("the client has no endpoint for %s %s (%s)", strings.ToUpper(method), path, op.OperationID)
			}
		}
	}
	t.Logf("%d endpoints checked against the document", len(endpoints))
}

func pathParams(path string) []string {
	var names []string
	for part := range strings.SplitSeq(path, "/") {
		if name, ok := strings.CutPrefix(part, "{"); ok {
			names = append(names, strings.TrimSuffix(name, "}"))
		}
	}
	return names
}

// fieldNames lists the names a struct's fields carry in tag.
func fieldNames(t reflect.Type, tag string) []string {
	if t == nil {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get(tag), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}
