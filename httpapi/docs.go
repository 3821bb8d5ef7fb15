package httpapi

import (
	"bytes"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// docOp is one operation as the docs page shows it.
type docOp struct {
	Method, Path, Summary, Scope, Anchor string
	Params                               []*huma.Param
	Body                                 string
	Responses                            []string
}

type docTag struct {
	Name string
	Ops  []docOp
}

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{font:13px ui-monospace,monospace}pre{white-space:pre-wrap;background:#f6f6f6;padding:.75rem}
.op{border-top:1px solid #ddd;padding:.5rem 0}.m{display:inline-block;min-width:4.5rem;font-weight:bold}
table{border-collapse:collapse}td,th{text-align:left;padding:.15rem .6rem .15rem 0;vertical-align:top}
nav a{margin-right:.8rem}
</style></head><body>
<h1>{{.Title}} <small>{{.Version}}</small></h1>
<pre>{{.Description}}</pre>
<p>The machine-readable description is <a href="/openapi.json">/openapi.json</a> (OpenAPI {{.OpenAPI}}).</p>
<nav>{{range .Tags}}<a href="#{{.Name}}">{{.Name}}</a>{{end}}</nav>
{{range .Tags}}<h2 id="{{.Name}}">{{.Name}}</h2>
{{range .Ops}}<div class="op" id="{{.Anchor}}">
<p><span class="m">{{.Method}}</span><code>{{.Path}}</code> — {{.Summary}}<br>
scope <code>{{.Scope}}</code>{{if .Body}}; body <code>{{.Body}}</code>{{end}}; answers {{range $i, $r := .Responses}}{{if $i}}, {{end}}{{$r}}{{end}}</p>
{{if .Params}}<table>{{range .Params}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}{{if .Required}}, required{{end}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
</div>{{end}}{{end}}
</body></html>
`))

// renderDocs renders the docs page from the OpenAPI document itself, so
// it lists exactly the operations that are served.
func renderDocs(oapi *huma.OpenAPI) []byte {
	tags := map[string]*docTag{}
	var order []string
	paths := make([]string, 0, len(oapi.Paths))
	for p := range oapi.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		item := oapi.Paths[p]
		for _, mo := range []struct {
			method string
			op     *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
			if mo.op == nil {
				continue
			}
			d := docOp{Method: mo.method, Path: p, Summary: mo.op.Summary, Anchor: mo.op.OperationID, Params: mo.op.Parameters}
			if scope, ok := mo.op.Metadata[metaScope].(string); ok {
				d.Scope = scope
			}
			if rb := mo.op.RequestBody; rb != nil {
				if mt := rb.Content["application/json"]; mt != nil && mt.Schema != nil {
					d.Body = strings.TrimPrefix(mt.Schema.Ref, "#/components/schemas/")
				}
			}
			for code := range mo.op.Responses {
				d.Responses = append(d.Responses, code)
			}
			sort.Strings(d.Responses)
			tag := "Other"
			if len(mo.op.Tags) > 0 {
				tag = mo.op.Tags[0]
			}
			if tags[tag] == nil {
				tags[tag] = &docTag{Name: tag}
				order = append(order, tag)
			}
			tags[tag].Ops = append(tags[tag].Ops, d)
		}
	}
	sort.Strings(order)
	data := struct {
		Title, Version, Description, OpenAPI string
		Tags                                 []*docTag
	}{Title: oapi.Info.Title, Version: oapi.Info.Version, Description: oapi.Info.Description, OpenAPI: oapi.OpenAPI}
	for _, t := range order {
		data.Tags = append(data.Tags, tags[t])
	}
	var buf bytes.Buffer
	if err := docsTemplate.Execute(&buf, data); err != nil {
		// The template and its data are fixed at start-up; a failure here
		// is a bug to see at once, not a page to serve half-written.
		panic("render docs page: " + err.Error())
	}
	return buf.Bytes()
}

func (h *handler) serveDocs(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(h.docs) // the client is gone if this fails
}
