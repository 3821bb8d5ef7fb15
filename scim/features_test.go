package scim

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

// TestAdvertisedFeatures is a black-box client: it reads
// ServiceProviderConfig and exercises every feature it advertises.
func TestAdvertisedFeatures(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		res := e.doAs(t, "", "GET", "/ServiceProviderConfig", "")
		e.want(t, res, 200)
		cfg := res.json
		supported := func(name string) map[string]any {
			f := cfg[name].(map[string]any)
			if f["supported"] != true {
				t.Errorf("%s not advertised", name)
			}
			return f
		}
		supported("patch")
		if cfg["changePassword"].(map[string]any)["supported"] != false {
			t.Error("changePassword advertised")
		}
		for _, p := range []string{"/ResourceTypes", "/ResourceTypes/User", "/Schemas",
			"/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"} {
			e.want(t, e.doAs(t, "", "GET", p, ""), 200)
		}
		e.want(t, e.doAs(t, "", "GET", "/Schemas/urn:nope", ""), 404)

		t.Run("filter and paging", func(t *testing.T) {
			maxResults := int(supported("filter")["maxResults"].(float64))
			res := e.do(t, "GET", "/Users?count=100000", "")
			if n := len(res.json["Resources"].([]any)); n != maxResults {
				t.Errorf("count above maxResults gave %d, want %d", n, maxResults)
			}
			// Paging is stable: three pages of two are the first six.
			var paged []string
			for start := 1; start <= 5; start += 2 {
				res := e.do(t, "GET", fmt.Sprintf("/Users?%s&startIndex=%d&count=2", q(`filter=userName sw "user00"`), start), "")
				if res.json["totalResults"].(float64) != 99-4 { // user0005..user0099
					t.Fatalf("totalResults %v", res.json["totalResults"])
				}
				for _, r := range res.json["Resources"].([]any) {
					paged = append(paged, r.(map[string]any)["userName"].(string))
				}
			}
			if got := strings.Join(paged, " "); got != "user0005@acme.test user0006@acme.test user0007@acme.test user0008@acme.test user0009@acme.test user0010@acme.test" {
				t.Errorf("pages: %s", got)
			}
			res = e.do(t, "GET", "/Users?"+q(`filter=userName ew "@acme.test" and not (userName co "user")`)+"&count=0", "")
			if res.json["totalResults"].(float64) != 3 || len(res.json["Resources"].([]any)) != 0 {
				t.Errorf("count=0: %s", res.Body)
			}
			res = e.do(t, "GET", "/Users?"+q(`filter=(displayName eq "ALICE ADMIN" or name.formatted eq "sam admin") and active eq true`), "")
			if res.json["totalResults"].(float64) != 2 {
				t.Errorf("case-insensitive displayName: %s", res.Body)
			}
			res = e.do(t, "GET", "/Users?"+q(`filter=meta.created gt "2000-01-01T00:00:00Z" and externalId pr`), "")
			if res.json["totalResults"].(float64) != 0 {
				t.Errorf("externalId pr: %s", res.Body)
			}
		})
		t.Run("sort", func(t *testing.T) {
			supported("sort")
			res := e.do(t, "GET", "/Users?sortBy=userName&sortOrder=descending&count=3&"+q(`filter=userName sw "user09"`), "")
			var names []string
			for _, r := range res.json["Resources"].([]any) {
				names = append(names, r.(map[string]any)["userName"].(string))
			}
			if got := strings.Join(names, " "); got != "user0999@acme.test user0998@acme.test user0997@acme.test" {
				t.Errorf("sorted: %s", got)
			}
			e.want(t, e.do(t, "GET", "/Users?sortBy=password", ""), 400)
		})
		t.Run("attributes", func(t *testing.T) {
			res := e.do(t, "GET", "/Users/"+e.uuid(t, 5)+"?attributes=userName,name.givenName", "")
			if len(res.json) != 3 || res.json["userName"] == nil { // schemas, id, userName
				t.Errorf("attributes: %s", res.Body)
			}
			res = e.do(t, "GET", "/Users/"+e.uuid(t, 5)+"?excludedAttributes=emails,meta", "")
			if res.json["emails"] != nil || res.json["meta"] != nil || res.json["userName"] == nil {
				t.Errorf("excludedAttributes: %s", res.Body)
			}
		})
		t.Run("etag", func(t *testing.T) {
			supported("etag")
			path := "/Users/" + e.uuid(t, 6)
			res := e.do(t, "GET", path, "")
			etag := res.Header.Get("ETag")
			if etag == "" || etag != res.json["meta"].(map[string]any)["version"] {
				t.Fatalf("ETag %q, meta %v", etag, res.json["meta"])
			}
			e.want(t, e.do(t, "GET", path, "", "If-None-Match", etag), 304)
			e.want(t, e.do(t, "PATCH", path, `{"Operations":[{"op":"replace","path":"displayName","value":"Six"}]}`, "If-Match", etag), 200)
			// The version moved: the old one no longer matches.
			digest := e.Digest(t)
			res = e.do(t, "PATCH", path, `{"Operations":[{"op":"replace","path":"active","value":false}]}`, "If-Match", etag)
			e.want(t, res, 412)
			e.want(t, e.do(t, "DELETE", path, "", "If-Match", etag), 412)
			if e.Digest(t) != digest {
				t.Error("a 412 changed something")
			}
			e.want(t, e.do(t, "GET", path, "", "If-None-Match", etag), 200)
			g := e.do(t, "GET", "/Groups?"+q(`filter=displayName eq "Engineering"`), "").json["Resources"].([]any)[0].(map[string]any)
			gpath := "/Groups/" + g["id"].(string)
			res = e.do(t, "GET", gpath+"?excludedAttributes=members", "")
			getag := res.Header.Get("ETag")
			e.want(t, e.do(t, "PATCH", gpath, `{"Operations":[{"op":"remove","path":"members[value eq \"`+e.uuid(t, 30)+`\"]"}]}`), 204)
			e.want(t, e.do(t, "PATCH", gpath, `{"Operations":[{"op":"replace","path":"displayName","value":"Eng"}]}`, "If-Match", getag), 412)
		})
		t.Run("bulk", func(t *testing.T) {
			b := supported("bulk")
			maxOps := int(b["maxOperations"].(float64))
			res := e.do(t, "POST", "/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":1,"Operations":[
				{"method":"POST","path":"/Users","bulkId":"u1","data":{"userName":"bulk.one@acme.test","active":true}},
				{"method":"POST","path":"/Groups","bulkId":"g1","data":{"displayName":"Bulk group","members":[{"value":"bulkId:u1"}]}},
				{"method":"PATCH","path":"/Users/bulkId:u1","data":{"Operations":[{"op":"replace","value":{"active":false}}]}},
				{"method":"DELETE","path":"/Groups/bulkId:g1"}]}`)
			e.want(t, res, 200)
			var statuses []string
			for _, op := range res.json["Operations"].([]any) {
				statuses = append(statuses, op.(map[string]any)["status"].(string))
			}
			if got := strings.Join(statuses, " "); got != "201 201 200 204" {
				t.Errorf("bulk statuses %s: %s", got, res.Body)
			}
			m, err := e.Svc.Member(context.Background(), e.Owner, membership.MemberRef{Email: "bulk.one@acme.test"})
			if err != nil || m.Active() {
				t.Errorf("bulk user: %+v %v", m, err)
			}
			// failOnErrors stops at the first failure.
			res = e.do(t, "POST", "/Bulk", `{"failOnErrors":1,"Operations":[
				{"method":"PATCH","path":"/Users/bulkId:nope","data":{"Operations":[]}},
				{"method":"POST","path":"/Users","bulkId":"x","data":{"userName":"never@acme.test"}}]}`)
			if ops := res.json["Operations"].([]any); len(ops) != 1 || ops[0].(map[string]any)["status"] != "409" {
				t.Errorf("failOnErrors: %s", res.Body)
			}
			var many []string
			for i := 0; i <= maxOps; i++ {
				many = append(many, `{"method":"DELETE","path":"/Users/x"}`)
			}
			e.want(t, e.do(t, "POST", "/Bulk", `{"Operations":[`+strings.Join(many, ",")+`]}`), 413)
			big := strings.Repeat(" ", int(b["maxPayloadSize"].(float64))+1)
			e.want(t, e.do(t, "POST", "/Bulk", `{"Operations":[]`+big+`}`), 413)
		})
	})
}

// TestErrors checks SCIM's error format, statuses and scimType, the
// tenant wall and the last owner.
func TestErrors(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		tk := e.Tokens(t)
		m5 := "/Users/" + e.uuid(t, 5)
		for _, tc := range []struct {
			name, token, method, path, body string
			status                          int
			scimType                        string
		}{
			{"no token", "-", "GET", "/Users", "", 401, ""},
			{"wrong token", tk.Wrong, "GET", "/Users", "", 401, ""},
			{"expired", tk.Expired, "GET", "/Users", "", 401, ""},
			{"no scim scope", tk.ReadOnly, "GET", "/Users", "", 403, ""},
			{"other organization", tk.Other, "GET", m5, "", 404, ""},
			{"other organization patch", tk.Other, "PATCH", m5, `{"Operations":[{"op":"replace","value":{"active":false}}]}`, 404, ""},
			{"other organization in list", tk.Other, "GET", "/Users?" + q(`filter=userName eq "user0005@acme.test"`), "", 200, ""},
			{"unknown id", "", "GET", "/Users/nope", "", 404, ""},
			{"bad filter", "", "GET", "/Users?" + q(`filter=userName eq`), "", 400, "invalidFilter"},
			{"unknown filter attribute", "", "GET", "/Users?" + q(`filter=shoeSize eq "9"`), "", 400, "invalidFilter"},
			{"members pr", "", "GET", "/Groups?" + q(`filter=members pr`), "", 400, "invalidFilter"},
			{"bad json", "", "POST", "/Users", `{"userName":`, 400, "invalidSyntax"},
			{"no userName", "", "POST", "/Users", `{"active":true}`, 400, "invalidValue"},
			{"bad userName", "", "POST", "/Users", `{"userName":"not an address"}`, 400, "invalidValue"},
			{"bad op", "", "PATCH", m5, `{"Operations":[{"op":"merge","path":"active","value":true}]}`, 400, "invalidSyntax"},
			{"bad path", "", "PATCH", m5, `{"Operations":[{"op":"replace","path":"members[","value":true}]}`, 400, "invalidPath"},
			{"unknown attribute", "", "PATCH", m5, `{"Operations":[{"op":"replace","path":"shoeSize","value":9}]}`, 400, "invalidPath"},
			{"remove without path", "", "PATCH", m5, `{"Operations":[{"op":"remove"}]}`, 400, "noTarget"},
			{"remove userName", "", "PATCH", m5, `{"Operations":[{"op":"remove","path":"userName"}]}`, 400, "mutability"},
			{"active not boolean", "", "PATCH", m5, `{"Operations":[{"op":"replace","path":"active","value":"maybe"}]}`, 400, "invalidValue"},
			{"no Operations", "", "PATCH", m5, `{}`, 400, "invalidSyntax"},
			{"taken userName", "", "PATCH", m5, `{"Operations":[{"op":"replace","path":"userName","value":"alice@acme.test"}]}`, 409, "uniqueness"},
			{"wrong schema", "", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"userName":"a@acme.test"}`, 400, "invalidSyntax"},
			{"NUL in id", "", "GET", "/Users/%00", "", 404, ""},
			{"NUL in filter", "", "GET", "/Users?" + q(`filter=userName eq "a\u0000b"`), "", 400, "invalidFilter"},
			{"NUL in member", "", "PATCH", "/Groups/a4d5e6f7-8b9c-4d2e-9f1a-3b4c5d6e7f8a", `{"Operations":[{"op":"remove","path":"members","value":[{"value":"\u0000"}]}]}`, 400, "invalidValue"},
			{"NUL in bulk path", "", "POST", "/Bulk", `{"Operations":[{"method":"DELETE","path":"/Users/\u0000"}]}`, 200, ""},
			{"long or chain", "", "GET", "/Users?" + q("filter="+strings.Repeat(`userName eq "x" or `, 150)+`userName pr`), "", 200, ""},
			{"too long or chain", "", "GET", "/Users?" + q("filter="+strings.Repeat(`id eq "x" or `, 300)+`id pr`), "", 400, "invalidValue"},
			{"method", "", "DELETE", "/Users", "", 405, ""},
			{"unknown endpoint", "", "GET", "/Widgets", "", 404, ""},
			{"Me", "", "GET", "/Me", "", 501, ""},
			{"filtered Schemas", "", "GET", "/Schemas?" + q(`filter=id eq "x"`), "", 403, ""},
			{"filtered ResourceTypes", "", "GET", "/ResourceTypes?" + q(`filter=id eq "User"`), "", 403, ""},
			{"Me changed", "", "PATCH", "/Me", `{"Operations":[]}`, 501, ""},
			{"last owner", "", "PATCH", "/Users/" + e.uuid(t, 1), `{"Operations":[{"op":"replace","value":{"active":false}}]}`, 409, ""},
			{"last owner delete", "", "DELETE", "/Users/" + e.uuid(t, 1), "", 409, ""},
			{"add unknown member", "", "PATCH", "/Groups/a4d5e6f7-8b9c-4d2e-9f1a-3b4c5d6e7f8a", `{"Operations":[{"op":"add","path":"members","value":[{"value":"nobody"}]}]}`, 400, "invalidValue"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				token := tc.token
				switch token {
				case "":
					token = e.token
				case "-":
					token = ""
				}
				digest := e.Digest(t)
				res := e.doAs(t, token, tc.method, tc.path, tc.body)
				if res.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", res.Status, tc.status, res.Body)
				}
				if tc.status >= 400 {
					if res.json["schemas"].([]any)[0] != msgError || res.json["status"] != fmt.Sprint(tc.status) {
						t.Errorf("not a SCIM error: %s", res.Body)
					}
					if got, _ := res.json["scimType"].(string); got != tc.scimType {
						t.Errorf("scimType %q, want %q", got, tc.scimType)
					}
					if e.Digest(t) != digest {
						t.Error("a refused request changed something")
					}
				}
				if tc.token == tk.Other && tc.status == 200 && res.json["totalResults"].(float64) != 0 {
					t.Errorf("another organization's member listed: %s", res.Body)
				}
			})
		}
		if !e.Member(t, 1).Active() {
			t.Error("the last owner was deactivated")
		}
	})
}

// TestRenameAndLimits covers a userName change (the membership moves to
// the new address, keeping its id) and the rate limit in SCIM's format.
func TestRenameAndLimits(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		m7 := e.uuid(t, 7)
		res := e.do(t, "PATCH", "/Users/"+m7, `{"Operations":[{"op":"replace","path":"userName","value":"Seven@Acme.test"}]}`)
		e.want(t, res, 200)
		if res.json["userName"] != "Seven@Acme.test" || res.json["id"] != m7 {
			t.Errorf("rename: %s", res.Body)
		}
		res = e.do(t, "GET", "/Users?"+q(`filter=userName eq "seven@acme.test"`), "")
		if res.json["totalResults"].(float64) != 1 {
			t.Errorf("renamed user not found: %s", res.Body)
		}
		tight := e.Serve(t, Prefix, NewHandler, dialecttest.TightLimits)
		var last *http.Response
		for range 2 {
			req, _ := http.NewRequest("GET", tight.URL+"/scim/v2/Users?count=1", nil)
			req.Header.Set("Authorization", "Bearer "+e.token)
			resp, body := dialecttest.Do(t, req)
			last = resp
			if resp.StatusCode == 429 && !strings.Contains(string(body), `"status":"429"`) {
				t.Errorf("429 not in SCIM's format: %s", body)
			}
		}
		if last.StatusCode != 429 || last.Header.Get("Retry-After") == "" {
			t.Errorf("rate limit: %d, Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
		}
	})
}

// TestGroupPatchOrder checks that operations on named members apply in
// order within one PATCH, whether or not the whole set is read.
func TestGroupPatchOrder(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		doors := "/Groups/" + demo.TedeeGroupUUID
		m20, m10 := e.uuid(t, 20), e.uuid(t, 10)
		for _, tc := range []struct{ query, ops, want string }{
			{"", `{"op":"add","path":"members","value":[{"value":"` + m20 + `"}]},{"op":"remove","path":"members","value":[{"value":"` + m20 + `"}]}`, "[10 11 12 13 14 15]"},
			{"", `{"op":"remove","path":"members","value":[{"value":"` + m10 + `"}]},{"op":"add","path":"members","value":[{"value":"` + m10 + `"},{"value":"` + m20 + `"}]}`, "[10 11 12 13 14 15 20]"},
			{"?attributes=members", `{"op":"remove","path":"members","value":[{"value":"` + m20 + `"}]},{"op":"remove","path":"members[value eq \"` + m10 + `\"]"}`, "[11 12 13 14 15]"},
		} {
			res := e.do(t, "PATCH", doors+tc.query, `{"Operations":[`+tc.ops+`]}`)
			if got := fmt.Sprint(e.groupMembers(t, demo.GroupDoors)); got != tc.want || res.Status/100 != 2 {
				t.Errorf("%s: %d, members %s, want %s", tc.ops, res.Status, got, tc.want)
			}
			if tc.query != "" && len(res.json["members"].([]any)) != 5 {
				t.Errorf("answer lists %v", res.json["members"])
			}
		}
	})
}

// FuzzPatchEndpoint sends PATCH bodies through the whole handler: no body
// may get a 500. Under -fuzz only the decoder runs (see dialecttest.Fuzz).
func FuzzPatchEndpoint(f *testing.F) {
	seeds := []dialecttest.FuzzInput{
		{ContentType: contentType, Body: []byte(`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)},
		{ContentType: contentType, Body: []byte(`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"x"}]}]}`)},
		{ContentType: "text/plain", Body: []byte(`{"Operations":[]}`)},
		{ContentType: contentType, Body: []byte(`{"Operations":[{"op":"add","path":"emails[type eq \"work\"].value","value":1}]}`)},
	}
	dialecttest.Fuzz(f, seeds, func(tb testing.TB, engine string) dialecttest.Check {
		e := newEnv(tb, engine)
		user := "/scim/v2/Users/" + e.uuid(tb, 5)
		group := "/scim/v2/Groups/" + demo.TedeeGroupUUID
		return func(t *testing.T, ct string, body []byte, withEndpoint bool) {
			ops, err := decodePatch(body)
			if err == nil {
				in := &membership.UserInput{}
				for _, op := range ops {
					_ = userTarget{in: in}.apply(op)
				}
			}
			if !withEndpoint {
				return
			}
			for _, path := range []string{user, group} {
				req, _ := http.NewRequest("PATCH", e.Srv.URL+path, strings.NewReader(string(body)))
				req.Header.Set("Authorization", "Bearer "+e.token)
				req.Header.Set("Content-Type", ct)
				resp, data := dialecttest.Do(t, req)
				if resp.StatusCode >= 500 {
					t.Fatalf("%s: %d %s", path, resp.StatusCode, data)
				}
			}
		}
	})
}
