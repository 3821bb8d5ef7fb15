package scim

import (
	"slices"
	"strings"
	"testing"

	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/dialecttest"
)

// The tests in this file hold what a black-box conformance campaign
// (RFC 7643/7644, and Okta's and Entra ID's real requests) found wrong.

// TestNullIsUnassigned checks RFC 7643 §2.5: a null attribute is an
// unassigned one. An unassigned active changes nothing (POST: active), so
// that a null can never deprovision; an unassigned name is cleared as a
// PUT leaving it out clears it.
func TestNullIsUnassigned(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		m4 := "/Users/" + e.uuid(t, 4)
		for _, tc := range []struct{ name, method, body string }{
			{"PUT", "PUT", `{"userName":"example@example.com","active":null}`},
			{"PATCH without path", "PATCH", `{` + patchSchema + `,"Operations":[{"op":"replace","value":{"active":null}}]}`},
		} {
			res := e.do(t, tc.method, m4, tc.body)
			e.want(t, res, 200)
			if res.json["active"] != true || !e.access(t, 4, "Desk L-102") {
				t.Errorf("%s with active null: %s, access %v", tc.name, res.Body, e.access(t, 4, "Desk L-102"))
			}
		}
		// A path naming active needs a value: null there is refused.
		res := e.do(t, "PATCH", m4, `{`+patchSchema+`,"Operations":[{"op":"replace","path":"active","value":null}]}`)
		e.want(t, res, 400)
		if res.json["scimType"] != "invalidValue" || !e.Member(t, 4).Active() {
			t.Errorf("replace of active with null: %s", res.Body)
		}
		// A deactivated user stays deactivated.
		e.want(t, e.do(t, "PATCH", m4, `{`+patchSchema+`,"Operations":[{"op":"replace","value":{"active":false}}]}`), 200)
		res = e.do(t, "PUT", m4, `{"userName":"example@example.com","active":null}`)
		if res.Status != 200 || res.json["active"] != false || e.access(t, 4, "Desk L-102") {
			t.Errorf("PUT with active null reactivated: %s", res.Body)
		}

		res = e.do(t, "POST", "/Users", `{"userName":"nora.null@acme.test","active":null,"name":null}`)
		e.want(t, res, 201)
		if res.json["active"] != true {
			t.Errorf("POST with active null: %s", res.Body)
		}

		m5 := "/Users/" + e.uuid(t, 5)
		res = e.do(t, "PUT", m5, `{"userName":"user0005@acme.test","name":{"givenName":"Five","familyName":"Fifth"}}`)
		if res.Status != 200 || res.json["name"].(map[string]any)["givenName"] != "Five" {
			t.Fatalf("PUT with a name: %s", res.Body)
		}
		res = e.do(t, "PATCH", m5, `{`+patchSchema+`,"Operations":[{"op":"replace","value":{"name":null}}]}`)
		e.want(t, res, 200)
		if name, _ := res.json["name"].(map[string]any); name["givenName"] != nil || name["familyName"] != nil || res.json["active"] != true {
			t.Errorf("PATCH with name null: %s", res.Body)
		}
		e.want(t, e.do(t, "PUT", m5, `{"userName":"user0005@acme.test","name":{"givenName":"Five"}}`), 200)
		res = e.do(t, "PUT", m5, `{"userName":"user0005@acme.test","displayName":"Number Five","name":null}`)
		e.want(t, res, 200)
		if name, _ := res.json["name"].(map[string]any); name["givenName"] != nil || res.json["displayName"] != "Number Five" {
			t.Errorf("PUT with name null: %s", res.Body)
		}
	})
}

// TestGroupProjection checks that a projection leaving meta out of a
// group answer keeps its ETag, as a user's answer does.
func TestGroupProjection(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		doors := "/Groups/" + demo.TedeeGroupUUID
		full := e.do(t, "GET", doors, "")
		e.want(t, full, 200)
		for _, query := range []string{"attributes=displayName", "excludedAttributes=meta", "attributes=members"} {
			res := e.do(t, "GET", doors+"?"+query, "")
			e.want(t, res, 200)
			if res.json["meta"] != nil || res.json["id"] == nil {
				t.Errorf("%s: %s", query, res.Body)
			}
			if et := res.Header.Get("ETag"); et == "" || et != full.Header.Get("ETag") {
				t.Errorf("%s: ETag %q, want %q", query, et, full.Header.Get("ETag"))
			}
		}
		e.want(t, e.do(t, "GET", doors+"?attributes=displayName", "", "If-None-Match", full.Header.Get("ETag")), 304)
	})
}

// TestRecreateAfterDelete checks that a POST of a deleted user's userName
// creates a new user as the provider believes: the same membership and
// id, with none of the deleted user's groups or access, where the address
// may now be another person's.
func TestRecreateAfterDelete(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		m12 := e.uuid(t, 12)
		if !e.access(t, 12, "Front door lock") || !e.access(t, 12, "Server room lock") {
			t.Fatal("member 12 has no access to start with")
		}
		e.want(t, e.do(t, "DELETE", "/Users/"+m12, ""), 204)
		res := e.do(t, "POST", "/Users", `{"userName":"user0012@acme.test","active":true}`)
		e.want(t, res, 201)
		e.audited(t, res, "member.added")
		if res.json["id"] != m12 || res.json["active"] != true || res.json["groups"] != nil {
			t.Errorf("re-created user: %s", res.Body)
		}
		for _, r := range []string{"Front door lock", "Server room lock"} {
			if e.access(t, 12, r) {
				t.Errorf("the re-created user can use %s, which the deleted one could", r)
			}
		}
		if n := len(e.do(t, "GET", "/Users?"+q(`filter=groups.value eq "`+demo.TedeeGroupUUID+`" and id eq "`+m12+`"`), "").json["Resources"].([]any)); n != 0 {
			t.Error("the re-created user is listed in the deleted one's group")
		}
	})
}

// TestCreateDeactivatedUserName checks that a POST of a deactivated
// user's userName is a duplicate (RFC 7644 §3.3), as an active one's is,
// and reactivates nothing.
func TestCreateDeactivatedUserName(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		m4 := "/Users/" + e.uuid(t, 4)
		e.want(t, e.do(t, "PATCH", m4, `{`+patchSchema+`,"Operations":[{"op":"replace","value":{"active":false}}]}`), 200)
		res := e.do(t, "POST", "/Users", `{"userName":"Example@example.com","active":true}`)
		e.want(t, res, 409)
		if res.json["scimType"] != "uniqueness" {
			t.Errorf("scimType %v, want uniqueness", res.json["scimType"])
		}
		if e.Member(t, 4).Active() || e.access(t, 4, "Desk L-102") {
			t.Error("a create reactivated the deactivated user")
		}
	})
}

// TestGroupAddSkipsDeactivated checks that a members add naming a
// deactivated user among active ones adds the active ones and gives the
// deactivated one nothing, rather than failing the whole request.
func TestGroupAddSkipsDeactivated(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		m4, m5 := e.uuid(t, 4), e.uuid(t, 5)
		e.want(t, e.do(t, "PATCH", "/Users/"+m4, `{`+patchSchema+`,"Operations":[{"op":"replace","value":{"active":false}}]}`), 200)
		members := `[{"value":"` + m5 + `"},{"value":"` + m4 + `"}]`
		res := e.do(t, "POST", "/Groups", `{"displayName":"Batched","members":`+members+`}`)
		e.want(t, res, 201)
		if got := groupValues(t, e.do(t, "GET", "/Users/"+m5, "")); got != res.json["id"] {
			t.Errorf("POST: member 5's groups %q, want the new group", got)
		}
		if n := len(res.json["members"].([]any)); n != 1 {
			t.Errorf("POST: %d members, want 1: %s", n, res.Body)
		}
		doors := "/Groups/" + demo.TedeeGroupUUID
		res = e.do(t, "PATCH", doors, `{`+patchSchema+`,"Operations":[{"op":"Add","path":"members","value":`+members+`}]}`)
		e.want(t, res, 204)
		if !e.access(t, 5, "Front door lock") {
			t.Error("PATCH: member 5 was not added")
		}
		if e.access(t, 4, "Front door lock") || e.Member(t, 4).Active() {
			t.Error("PATCH: the deactivated member got access")
		}
		// Reactivation brings back what the removal took, not the skipped add.
		e.want(t, e.do(t, "PATCH", "/Users/"+m4, `{`+patchSchema+`,"Operations":[{"op":"replace","value":{"active":true}}]}`), 200)
		if e.access(t, 4, "Front door lock") || !e.access(t, 4, "Desk L-102") {
			t.Error("reactivation did not restore exactly what the removal took")
		}
	})
}

// TestExtensionsIgnored checks that attributes of extension schemas
// memberd does not keep (an Entra ID tenant's custom extension, sent on
// every update) are accepted and ignored, in paths, in URN-keyed objects
// and in schemas, while unknown core attributes stay refused.
func TestExtensionsIgnored(t *testing.T) {
	const custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		res := e.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","`+custom+`"],
			"userName":"ext@acme.test","active":true,"`+custom+`":{"customAttr":"a"}}`)
		e.want(t, res, 201)
		user := "/Users/" + res.json["id"].(string)
		version := res.Header.Get("ETag")
		for _, body := range []string{
			`{` + patchSchema + `,"Operations":[{"op":"Add","path":"` + custom + `:customAttr","value":"c"}]}`,
			`{` + patchSchema + `,"Operations":[{"op":"replace","value":{"` + custom + `":{"customAttr":"d"},"` + custom + `:other":"e"}}]}`,
		} {
			res = e.do(t, "PATCH", user, body)
			e.want(t, res, 200)
			if res.Header.Get("ETag") != version {
				t.Errorf("an ignored extension changed the user: %s", res.Body)
			}
		}
		e.want(t, e.do(t, "PATCH", "/Groups/"+demo.TedeeGroupUUID, `{`+patchSchema+`,"Operations":[{"op":"replace","value":{"urn:example:group:ext:costCenter":"7"}}]}`), 204)
		// A whole extension URN in attributes asks for what memberd does not keep.
		res = e.do(t, "GET", user+"?attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "")
		e.want(t, res, 200)
		if res.json["userName"] != nil || res.json["id"] == nil {
			t.Errorf("attributes naming the enterprise extension: %s", res.Body)
		}
		for _, path := range []string{"fooBar", schemaGroup + ":displayName"} {
			res = e.do(t, "PATCH", user, `{`+patchSchema+`,"Operations":[{"op":"Add","path":"`+path+`","value":"c"}]}`)
			e.want(t, res, 400)
			if res.json["scimType"] != "invalidPath" {
				t.Errorf("%s: scimType %v, want invalidPath", path, res.json["scimType"])
			}
		}
	})
}

// TestHeadAnswersAsGet: HEAD on every resource a GET reads answers the
// GET's status and headers, without a body (RFC 9110 §9.3.2).
func TestHeadAnswersAsGet(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, path := range []string{"/Users", "/Users/" + e.uuid(t, 4), "/Groups", "/ServiceProviderConfig", "/Schemas", "/ResourceTypes"} {
		get, head := e.do(t, "GET", path, ""), e.do(t, "HEAD", path, "")
		if head.Status != get.Status || head.Status != 200 || head.Body != "" ||
			head.Header.Get("Content-Type") != get.Header.Get("Content-Type") || head.Header.Get("ETag") != get.Header.Get("ETag") {
			t.Errorf("HEAD %s: %d %q %v; GET: %d %v", path, head.Status, head.Body, head.Header, get.Status, get.Header)
		}
	}
}

// TestSortMissingValues: RFC 7644 §3.4.2.3 sorts a resource without the
// sort attribute last ascending and first descending, on both engines.
func TestSortMissingValues(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		for _, u := range []string{
			`{"userName":"sort.a@acme.test","name":{"familyName":"Aaa"}}`,
			`{"userName":"sort.none@acme.test"}`,
			`{"userName":"sort.z@acme.test","name":{"familyName":"Zzz"}}`,
		} {
			e.want(t, e.do(t, "POST", "/Users", u), 201)
		}
		for order, want := range map[string][]string{
			"ascending":  {"sort.a@acme.test", "sort.z@acme.test", "sort.none@acme.test"},
			"descending": {"sort.none@acme.test", "sort.z@acme.test", "sort.a@acme.test"},
		} {
			res := e.do(t, "GET", "/Users?sortBy=name.familyName&sortOrder="+order+"&"+q(`filter=userName sw "sort."`), "")
			e.want(t, res, 200)
			var got []string
			for _, r := range res.json["Resources"].([]any) {
				got = append(got, r.(map[string]any)["userName"].(string))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %v, want %v", order, got, want)
			}
		}
	})
}

// TestUserNameKeepsItsCase: a userName comes back as it was sent, case
// and all, while it still names one membership whatever its case: the
// lookups providers make before a create find it, and another case of it
// is a duplicate.
func TestUserNameKeepsItsCase(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		res := e.do(t, "POST", "/Users", `{"userName":"Runscope.Tester@Acme.TEST","name":{"givenName":"R"}}`)
		e.want(t, res, 201)
		id, _ := res.json["id"].(string)
		emails, _ := res.json["emails"].([]any)
		if res.json["userName"] != "Runscope.Tester@Acme.TEST" || len(emails) != 1 || emails[0].(map[string]any)["value"] != "Runscope.Tester@Acme.TEST" {
			t.Fatalf("created: %s", res.Body)
		}
		for _, path := range []string{"/Users/" + id, "/Users?" + q(`filter=userName eq "runscope.tester@acme.test"`)} {
			if res := e.do(t, "GET", path, ""); !strings.Contains(res.Body, `"userName":"Runscope.Tester@Acme.TEST"`) {
				t.Errorf("GET %s: %s", path, res.Body)
			}
		}
		e.want(t, e.do(t, "POST", "/Users", `{"userName":"runscope.tester@acme.test"}`), 409)
		// A PATCH that leaves userName alone keeps its case; one that
		// changes only the case changes it.
		res = e.do(t, "PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[{"op":"replace","path":"name.givenName","value":"S"}]}`)
		if res.json["userName"] != "Runscope.Tester@Acme.TEST" {
			t.Errorf("after a PATCH of the name: %s", res.Body)
		}
		res = e.do(t, "PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[{"op":"replace","path":"userName","value":"runscope.tester@acme.test"}]}`)
		if res.json["userName"] != "runscope.tester@acme.test" {
			t.Errorf("after a PATCH to lower case: %s", res.Body)
		}
	})
}
