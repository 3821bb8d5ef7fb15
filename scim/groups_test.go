package scim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/dialecttest"
)

// userGroups is a User answer's groups, as maps.
func userGroups(tb testing.TB, res *result) []map[string]any {
	tb.Helper()
	raw, _ := res.json["groups"].([]any)
	out := []map[string]any{}
	for _, g := range raw {
		out = append(out, g.(map[string]any))
	}
	return out
}

// groupValues lists a User answer's groups' values.
func groupValues(tb testing.TB, res *result) string {
	tb.Helper()
	var ids []string
	for _, g := range userGroups(tb, res) {
		ids = append(ids, g["value"].(string))
	}
	return strings.Join(ids, " ")
}

// listed lists the ids of a list answer's users.
func listed(tb testing.TB, e *env, res *result) []string {
	tb.Helper()
	e.want(tb, res, 200)
	ids := []string{}
	for _, r := range res.json["Resources"].([]any) {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	return ids
}

// TestUserGroups checks the User's groups (RFC 7643 §4.1.2): what a
// member's active group memberships are, as /Groups serves those groups,
// on every answer that shows a user, within the organization, advertised
// as /Schemas says, and gone once a membership or the member is.
func TestUserGroups(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		doors := demo.TedeeGroupUUID
		eng := e.do(t, "GET", "/Groups?excludedAttributes=members&"+q(`filter=displayName eq "Engineering"`), "").
			json["Resources"].([]any)[0].(map[string]any)["id"].(string)
		m12, m13 := e.uuid(t, 12), e.uuid(t, 13)
		ref := func(id string) string { return e.Srv.URL + "/scim/v2/Groups/" + id }

		// Member 12 is in both demo groups, listed in the groups' order.
		res := e.do(t, "GET", "/Users/"+m12, "")
		e.want(t, res, 200)
		want := []map[string]any{
			{"value": doors, "$ref": ref(doors), "display": demo.GroupDoors, "type": "direct"},
			{"value": eng, "$ref": ref(eng), "display": demo.GroupEng, "type": "direct"},
		}
		if diff := cmp.Diff(userGroups(t, res), want); diff != "" {
			t.Errorf("member 12's groups (-got +want):\n%s", diff)
		}
		etag := res.Header.Get("ETag")
		// Each $ref is the group /Groups serves.
		for _, g := range userGroups(t, res) {
			gr := e.do(t, "GET", strings.TrimPrefix(g["$ref"].(string), e.Srv.URL+"/scim/v2")+"?excludedAttributes=members", "")
			if gr.Status != 200 || gr.json["id"] != g["value"] || gr.json["displayName"] != g["display"] {
				t.Errorf("$ref %s answers %d %s", g["$ref"], gr.Status, gr.Body)
			}
		}
		// A member in no group shows none.
		if res := e.do(t, "GET", "/Users/"+e.uuid(t, 5), ""); res.json["groups"] != nil {
			t.Errorf("member 5 shows groups %v", res.json["groups"])
		}

		// Lists filter by them.
		number := map[string]int64{}
		for n := int64(1); n <= 40; n++ {
			number[e.uuid(t, n)] = n
		}
		for _, tc := range []struct{ filter, want string }{
			{`groups.value eq "` + doors + `"`, "10 11 12 13 14 15"},
			{`groups eq "` + strings.ToUpper(doors) + `"`, "10 11 12 13 14 15"},
			{`groups[value eq "` + doors + `" and type eq "direct"]`, "10 11 12 13 14 15"},
			{`groups[value eq "` + eng + `"] and groups[value eq "` + doors + `"]`, "12 13 14 15"},
			{`groups[type eq "indirect"]`, ""},
			{`userName eq "user0011@acme.test" and not (groups.value eq "` + eng + `")`, "11"},
		} {
			res := e.do(t, "GET", "/Users?count=100&"+q("filter="+tc.filter), "")
			var got []string
			for _, id := range listed(t, e, res) {
				got = append(got, fmt.Sprint(number[id]))
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("filter %s: members %v, want %s", tc.filter, got, tc.want)
			}
		}
		res = e.do(t, "GET", "/Users?count=100&"+q(`filter=groups.value eq "`+doors+`"`), "")
		for _, r := range res.json["Resources"].([]any) {
			if !strings.Contains(fmt.Sprint(r.(map[string]any)["groups"]), doors) {
				t.Errorf("a listed member of the door group does not show it: %v", r)
			}
		}
		for _, f := range []string{`groups.display eq "Engineering"`, `groups[display eq "Engineering"]`,
			`groups.value co "a"`, `groups.value ne "` + doors + `"`, `groups pr`, `groups.value eq null`, `groups.type eq "direct"`} {
			res := e.do(t, "GET", "/Users?"+q("filter="+f), "")
			if res.Status != 400 || res.json["scimType"] != "invalidFilter" {
				t.Errorf("filter %s: %d %s, want 400 invalidFilter", f, res.Status, res.Body)
			}
		}
		if res := e.do(t, "GET", "/Users?sortBy=groups.value", ""); res.Status != 400 {
			t.Errorf("sortBy groups: %d", res.Status)
		}

		// attributes and excludedAttributes.
		res = e.do(t, "GET", "/Users/"+m12+"?excludedAttributes=groups", "")
		if res.json["groups"] != nil || res.json["userName"] == nil || res.Header.Get("ETag") != etag {
			t.Errorf("excludedAttributes=groups: ETag %q (full %q): %s", res.Header.Get("ETag"), etag, res.Body)
		}
		res = e.do(t, "GET", "/Users?"+q(`filter=userName eq "user0012@acme.test"`)+"&excludedAttributes=groups", "")
		if r := res.json["Resources"].([]any)[0].(map[string]any); r["groups"] != nil || r["meta"] == nil {
			t.Errorf("list excludedAttributes=groups: %s", res.Body)
		}
		res = e.do(t, "GET", "/Users/"+m12+"?attributes=groups.display", "")
		if got := fmt.Sprint(res.json["groups"]); len(res.json) != 3 || got != "[map[display:Door access] map[display:Engineering]]" {
			t.Errorf("attributes=groups.display: %s", res.Body)
		}
		res = e.do(t, "GET", "/Users?attributes=userName,groups&"+q(`filter=groups.value eq "`+eng+`"`)+"&count=1", "")
		if r := res.json["Resources"].([]any)[0].(map[string]any); len(r) != 4 || r["groups"] == nil {
			t.Errorf("list attributes=userName,groups: %s", res.Body)
		}

		// Write answers honour them too, keeping Location and ETag, which
		// come from the whole user.
		res = e.do(t, "POST", "/Users?attributes=userName", `{"userName":"projected@acme.test","active":true}`)
		if res.Status != 201 || len(res.json) != 3 || res.Header.Get("Location") == "" || res.Header.Get("ETag") == "" {
			t.Errorf("POST ?attributes=userName: %d Location %q ETag %q %s", res.Status, res.Header.Get("Location"), res.Header.Get("ETag"), res.Body)
		}
		res = e.do(t, "GET", "/Users/"+m12+"?excludedAttributes=meta", "")
		if res.json["meta"] != nil || res.Header.Get("ETag") != etag {
			t.Errorf("GET ?excludedAttributes=meta: ETag %q (want %q) %s", res.Header.Get("ETag"), etag, res.Body)
		}

		// Writes of groups keep their behaviour: ignored (RFC 7644 §3.3,
		// §3.5.1 for a read-only attribute), whatever they name.
		digest := e.Digest(t)
		res = e.do(t, "PATCH", "/Users/"+m12, `{"Operations":[{"op":"replace","path":"groups","value":[]},
			{"op":"add","value":{"groups":[{"value":"`+doors+`"}]}},{"op":"remove","path":"groups[value eq \"`+eng+`\"]"}]}`)
		if res.Status != 200 || groupValues(t, res) != doors+" "+eng {
			t.Errorf("PATCH of groups: %d %s", res.Status, res.Body)
		}
		res = e.do(t, "PUT", "/Users/"+m12+"?excludedAttributes=emails", `{"userName":"user0012@acme.test","displayName":"`+e.Member(t, 12).Name+`","groups":[]}`)
		if res.Status != 200 || groupValues(t, res) != doors+" "+eng || res.json["emails"] != nil {
			t.Errorf("PUT with groups []: %d %s", res.Status, res.Body)
		}
		if e.Digest(t) != digest {
			t.Error("a write of groups changed something")
		}

		// Leaving a group shows at once, and moves the version.
		e.want(t, e.do(t, "PATCH", "/Groups/"+doors, `{"Operations":[{"op":"remove","path":"members[value eq \"`+m12+`\"]"}]}`), 204)
		res = e.do(t, "GET", "/Users/"+m12, "", "If-None-Match", etag)
		if res.Status != 200 || groupValues(t, res) != eng || res.Header.Get("ETag") == etag {
			t.Errorf("after leaving the door group: %d ETag %s %s", res.Status, res.Header.Get("ETag"), res.Body)
		}
		e.want(t, e.do(t, "PATCH", "/Users/"+m12, `{"Operations":[{"op":"replace","path":"displayName","value":"Twelve"}]}`, "If-Match", etag), 412)
		e.want(t, e.do(t, "DELETE", "/Users/"+m12, "", "If-Match", etag), 412)
		e.want(t, e.do(t, "PATCH", "/Users/"+m12, `{"Operations":[{"op":"replace","path":"displayName","value":"Twelve"}]}`,
			"If-Match", res.Header.Get("ETag")), 200)
		if got := listed(t, e, e.do(t, "GET", "/Users?"+q(`filter=groups.value eq "`+doors+`" and id eq "`+m12+`"`), "")); len(got) != 0 {
			t.Errorf("member 12 still found in the door group: %v", got)
		}

		// A deactivated member has no groups, in the PATCH's answer too;
		// reactivation brings back those its removal took.
		res = e.do(t, "PATCH", "/Users/"+m13, `{"Operations":[{"op":"replace","value":{"active":false}}]}`)
		if res.Status != 200 || res.json["groups"] != nil {
			t.Errorf("deactivation answer: %d %s", res.Status, res.Body)
		}
		if res := e.do(t, "GET", "/Users/"+m13, ""); res.json["groups"] != nil {
			t.Errorf("deactivated member's groups: %s", res.Body)
		}
		if got := listed(t, e, e.do(t, "GET", "/Users?"+q(`filter=groups.value eq "`+eng+`" and id eq "`+m13+`"`), "")); len(got) != 0 {
			t.Errorf("deactivated member found by group: %v", got)
		}
		res = e.do(t, "PATCH", "/Users/"+m13, `{"Operations":[{"op":"replace","value":{"active":true}}]}`)
		if groupValues(t, res) != doors+" "+eng {
			t.Errorf("reactivation answer: %s", res.Body)
		}
		// A DELETE's If-Match is checked against the version with the
		// groups, as the ETag a client holds covers them.
		e.want(t, e.do(t, "DELETE", "/Users/"+m13, "", "If-Match", res.Header.Get("ETag")), 204)

		// Tenant walls: member 12's user joins another organization and a
		// group there; each organization sees its own groups alone.
		tk := e.Tokens(t)
		res = e.doAs(t, tk.Other, "POST", "/Users", `{"userName":"`+e.Member(t, 12).Email+`","active":true}`)
		e.want(t, res, 201)
		other := res.json["id"].(string)
		res = e.doAs(t, tk.Other, "POST", "/Groups", `{"displayName":"Engineering","members":[{"value":"`+other+`"}]}`)
		e.want(t, res, 201)
		otherEng := res.json["id"].(string)
		if got := groupValues(t, e.doAs(t, tk.Other, "GET", "/Users/"+other, "")); got != otherEng {
			t.Errorf("other organization's user: groups %s, want %s", got, otherEng)
		}
		if got := groupValues(t, e.do(t, "GET", "/Users/"+m12, "")); got != eng {
			t.Errorf("member 12 after joining another organization's group: %s, want %s", got, eng)
		}
		for _, tc := range []struct{ token, group string }{{tk.Other, eng}, {tk.Other, doors}, {e.token, otherEng}} {
			if got := listed(t, e, e.doAs(t, tc.token, "GET", "/Users?"+q(`filter=groups.value eq "`+tc.group+`"`), "")); len(got) != 0 {
				t.Errorf("a filter on another organization's group %s found %v", tc.group, got)
			}
		}
		res = e.doAs(t, tk.Other, "GET", "/Users", "")
		if strings.Contains(res.Body, eng) || strings.Contains(res.Body, doors) {
			t.Errorf("another organization's list shows this one's groups: %s", res.Body)
		}
	})
}

// TestUserGroupsSchema checks that /Schemas advertises groups as served:
// read-only, returned by default, multi-valued, with the sub-attributes
// answers carry, and that every attribute a User answer carries is one
// /Schemas names.
func TestUserGroupsSchema(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		res := e.doAs(t, "", "GET", "/Schemas/"+schemaUser, "")
		e.want(t, res, 200)
		attrs := map[string]map[string]any{}
		for _, a := range res.json["attributes"].([]any) {
			attrs[a.(map[string]any)["name"].(string)] = a.(map[string]any)
		}
		g := attrs["groups"]
		if g == nil || g["mutability"] != "readOnly" || g["returned"] != "default" || g["multiValued"] != true || g["type"] != "complex" {
			t.Fatalf("groups advertised as %v", g)
		}
		subs := map[string]map[string]any{}
		for _, s := range g["subAttributes"].([]any) {
			s := s.(map[string]any)
			subs[s["name"].(string)] = s
			if s["mutability"] != "readOnly" {
				t.Errorf("groups.%s is %v, want readOnly", s["name"], s["mutability"])
			}
		}
		if fmt.Sprint(subs["$ref"]["referenceTypes"]) != "[Group]" || subs["$ref"]["type"] != "reference" {
			t.Errorf("groups.$ref advertised as %v", subs["$ref"])
		}
		user := e.do(t, "GET", "/Users/"+e.uuid(t, 12), "")
		for k, v := range user.json {
			if k == "schemas" || k == "id" || k == "meta" {
				continue // common attributes (RFC 7643 §3.1), not the schema's
			}
			if attrs[k] == nil {
				t.Errorf("a User answer carries %s, which /Schemas does not name", k)
			}
			if k != "groups" {
				continue
			}
			for _, gv := range v.([]any) {
				for sk := range gv.(map[string]any) {
					if subs[sk] == nil {
						t.Errorf("groups carry %s, which /Schemas does not name", sk)
					}
				}
			}
		}
		if user.json["groups"] == nil {
			t.Error("member 12 shows no groups")
		}
	})
}
