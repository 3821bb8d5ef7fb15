package scim

import (
	"strings"
	"testing"

	"github.com/memberd/memberd/internal/dialecttest"
)

// TestSearchByPost checks that a query sent as a SearchRequest to
// …/.search (RFC 7644 §3.4.3) answers exactly what the same query in a
// GET's URL answers, and that a malformed one is refused in SCIM's error
// format.
func TestSearchByPost(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		const search = `"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]`
		same := []struct{ get, post string }{
			{"/Users?" + q(`filter=userName sw "user00"`) + "&startIndex=3&count=4&sortBy=userName&sortOrder=descending&attributes=userName,active",
				`{` + search + `,"filter":"userName sw \"user00\"","startIndex":3,"count":4,"sortBy":"userName","sortOrder":"descending","attributes":["userName","active"]}`},
			{"/Users?excludedAttributes=emails,name&count=2",
				`{` + search + `,"excludedAttributes":["emails","name"],"count":2}`},
			{"/Users?attributes=userName&count=3", `{` + search + `,"attributes":"userName","count":3}`},
			{"/Groups?" + q(`filter=displayName pr`) + "&excludedAttributes=members", `{` + search + `,"filter":"displayName pr","excludedAttributes":["members"]}`},
		}
		for _, c := range same {
			get := e.do(t, "GET", c.get, "")
			e.want(t, get, 200)
			path := strings.SplitN(c.get, "?", 2)[0] + "/.search"
			post := e.do(t, "POST", path, c.post)
			e.want(t, post, 200)
			if post.Body != get.Body {
				t.Errorf("POST %s %s\nanswered %s\nGET %s answered %s", path, c.post, post.Body, c.get, get.Body)
			}
			if n := len(post.json["Resources"].([]any)); n == 0 {
				t.Errorf("POST %s %s found nothing", path, c.post)
			}
		}
		refused := []struct {
			method, path, body string
			status             int
			scimType           string
		}{
			{"GET", "/Users/.search", "", 405, ""},
			{"POST", "/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, 400, "invalidSyntax"},
			{"POST", "/Users/.search", `[1]`, 400, "invalidSyntax"},
			{"POST", "/Users/.search", `{` + search + `,"count":"many"}`, 400, "invalidSyntax"},
			{"POST", "/Users/.search", `{` + search + `,"count":1.5}`, 400, "invalidValue"},
			{"POST", "/Users/.search", `{` + search + `,"filter":7}`, 400, "invalidSyntax"},
			{"POST", "/Users/.search", `{` + search + `,"filter":"userName zz \"a\""}`, 400, "invalidFilter"},
			{"POST", "/Users/.search", `{` + search + `,"attributes":[1]}`, 400, "invalidSyntax"},
			{"POST", "/Groups/.search", `{` + search + `,"sortOrder":"sideways"}`, 400, "invalidValue"},
		}
		for _, c := range refused {
			res := e.do(t, c.method, c.path, c.body)
			if res.Status != c.status || (c.scimType != "" && res.json["scimType"] != c.scimType) {
				t.Errorf("%s %s %s: %d %s, want %d %s", c.method, c.path, c.body, res.Status, res.Body, c.status, c.scimType)
			}
		}
		if res := e.doAs(t, "", "POST", "/Users/.search", `{`+search+`}`); res.Status != 401 {
			t.Errorf("search without a token: %d, want 401", res.Status)
		}
	})
}

// FuzzSearchQuery checks that no SearchRequest body panics the reader or
// the list validation it feeds.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \"a\"","count":10}`,
		`{"attributes":["userName"],"excludedAttributes":"emails","startIndex":-3,"sortBy":"meta.created"}`,
		`{"count":1e400,"sortOrder":null}`, `[]`, `{"filter":"members[value eq \"x\"]"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := searchQuery(body)
		if err != nil {
			return
		}
		_, _ = readList(kindUser, &request{query: v})
		_, _ = readList(kindGroup, &request{query: v})
	})
}
