package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is the demo organization served over SCIM on one engine, with a
// transcript of every exchange for the golden file.
type env struct {
	*dialecttest.Served
	token      string
	transcript strings.Builder
}

func newEnv(tb testing.TB, engine string) *env {
	tb.Helper()
	s := dialecttest.LoadServed(tb, engine, Prefix, NewHandler, auth.Limits{}, func(req *http.Request, token string) {
		req.Header.Set("Authorization", "Bearer "+token)
	})
	return &env{Served: s, token: s.Demo.OwnerToken}
}

// result is one exchange, its body decoded when it is JSON.
type result struct {
	*dialecttest.Result
	json map[string]any
}

// do sends one request as an IdP would; headers alternate name, value.
func (e *env) do(tb testing.TB, method, path, body string, headers ...string) *result {
	tb.Helper()
	return e.doAs(tb, e.token, method, path, body, headers...)
}

func (e *env) doAs(tb testing.TB, token, method, path, body string, headers ...string) *result {
	tb.Helper()
	req, err := http.NewRequest(method, e.Srv.URL+"/scim/v2"+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res := &result{Result: e.Send(tb, req)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), contentType) && method != http.MethodHead {
		if err := json.Unmarshal([]byte(res.Body), &res.json); err != nil {
			tb.Fatalf("%s %s: answer is not JSON: %v\n%s", method, path, err, res.Body)
		}
	}
	if res.Status >= 500 && res.Status != http.StatusNotImplemented { // 501 answers /Me by design
		tb.Fatalf("%s %s: %d %s", method, path, res.Status, res.Body)
	}
	e.record(method, path, body, res)
	return res
}

// record adds an exchange to the transcript, bodies indented.
func (e *env) record(method, path, body string, res *result) {
	fmt.Fprintf(&e.transcript, "> %s %s\n", method, path)
	if body != "" {
		e.transcript.WriteString(indent(body) + "\n")
	}
	fmt.Fprintf(&e.transcript, "< %d", res.Status)
	if et := res.Header.Get("ETag"); et != "" {
		e.transcript.WriteString(" ETag: " + et)
	}
	e.transcript.WriteString("\n")
	if res.Body != "" {
		e.transcript.WriteString(indent(res.Body) + "\n")
	}
	e.transcript.WriteString("\n")
}

func indent(s string) string {
	var buf bytes.Buffer
	if json.Indent(&buf, []byte(s), "", "  ") != nil {
		return strings.TrimSpace(s)
	}
	return buf.String()
}

var (
	uuidRE    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE    = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	versionRE = regexp.MustCompile(`(W/\\?")[0-9a-f]{16}`)
	hostRE    = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
)

// golden compares the transcript, with what varies per run replaced, to
// testdata/name: both engines must produce the same one.
func (e *env) golden(tb testing.TB, name string) {
	tb.Helper()
	out := e.transcript.String()
	ids := map[string]string{}
	out = uuidRE.ReplaceAllStringFunc(out, func(u string) string {
		if _, ok := ids[u]; !ok {
			ids[u] = fmt.Sprintf("<id-%d>", len(ids)+1)
		}
		return ids[u]
	})
	out = timeRE.ReplaceAllString(out, "<time>")
	out = versionRE.ReplaceAllString(out, "${1}<version>")
	out = hostRE.ReplaceAllString(out, "http://<host>")
	dialecttest.Golden(tb, filepath.Join("testdata", name), []byte(out))
}

func (e *env) want(tb testing.TB, res *result, status int) {
	tb.Helper()
	if res.Status != status {
		tb.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
}

func (e *env) uuid(tb testing.TB, id int64) string { return e.Member(tb, id).UUID }

// access reports whether member id can use the named demo resource, asked
// natively.
func (e *env) access(tb testing.TB, id int64, resource string) bool {
	tb.Helper()
	acc, err := e.Svc.CheckAccess(context.Background(), e.Owner, membership.MemberRef{ID: id}, membership.Ref{ID: e.Demo.Resources[resource]})
	if err != nil {
		tb.Fatal(err)
	}
	return acc.Allowed
}

// audited checks that res's request left an ok event action with
// interface scim.
func (e *env) audited(tb testing.TB, res *result, action string) {
	tb.Helper()
	for _, ev := range e.Events(tb, res.RequestID) {
		if ev.Action == action && ev.Outcome == membership.OutcomeOK {
			if ev.Iface != Interface {
				tb.Errorf("event %s has interface %q, want scim", action, ev.Iface)
			}
			return
		}
	}
	tb.Errorf("request %s left no %s event: %+v", res.RequestID, action, e.Events(tb, res.RequestID))
}

func (e *env) groupMembers(tb testing.TB, name string) []int64 {
	tb.Helper()
	return e.ActiveGroupMembers(tb, e.Demo.Groups[name])
}

func q(s string) string { return strings.ReplaceAll(s, " ", "%20") }

const patchSchema = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// TestOkta replays what Okta sends (Okta's SCIM 2.0 protocol reference):
// a lookup by userName before every create, create, deactivation as a
// path-less replace, reactivation, the wizard apps' PUT of the full user,
// group pushes (add, remove by value filter, full replace, a displayName
// PATCH whose value carries the id, PUT), and DELETE.
func TestOkta(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		res := e.do(t, "GET", "/Users?"+q(`filter=userName eq "dana.new@acme.test"`)+"&startIndex=1&count=100", "")
		e.want(t, res, 200)
		if res.json["totalResults"].(float64) != 0 {
			t.Fatalf("absent user found: %s", res.Body)
		}
		res = e.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Dana.New@acme.test",
			"name":{"givenName":"Dana","familyName":"New"},"emails":[{"primary":true,"value":"dana.new@acme.test","type":"work"}],
			"displayName":"Dana New","locale":"en-US","externalId":"00u1abcd","groups":[],"password":"1mz050nq","active":true}`)
		e.want(t, res, 201)
		dana := res.json["id"].(string)
		if res.Header.Get("Location") != e.Srv.URL+"/scim/v2/Users/"+dana {
			t.Errorf("Location %q", res.Header.Get("Location"))
		}
		e.audited(t, res, "member.added")
		e.want(t, e.do(t, "GET", "/Users/"+dana, ""), 200)
		// A second create of the same userName is a uniqueness conflict.
		res = e.do(t, "POST", "/Users", `{"userName":"dana.new@ACME.test","active":true}`)
		e.want(t, res, 409)
		if res.json["scimType"] != "uniqueness" {
			t.Errorf("scimType %v", res.json["scimType"])
		}

		// Deactivate member 4, who holds Desk L-102 directly.
		m4 := e.uuid(t, 4)
		res = e.do(t, "GET", "/Users?"+q(`filter=userName eq "EXAMPLE@example.com"`)+"&startIndex=1&count=100", "")
		if res.json["totalResults"].(float64) != 1 || res.json["Resources"].([]any)[0].(map[string]any)["id"] != m4 {
			t.Fatalf("lookup of member 4: %s", res.Body)
		}
		if !e.access(t, 4, "Desk L-102") {
			t.Fatal("member 4 has no access to start with")
		}
		res = e.do(t, "PATCH", "/Users/"+m4, `{`+patchSchema+`,"Operations":[{"op":"replace","value":{"active":false}}]}`)
		e.want(t, res, 200)
		if e.access(t, 4, "Desk L-102") {
			t.Error("member 4 keeps access after deactivation")
		}
		e.audited(t, res, "member.removed")
		res = e.do(t, "GET", "/Users/"+m4, "")
		e.want(t, res, 200)
		if res.json["active"] != false {
			t.Errorf("deactivated user reads %v", res.json["active"])
		}
		// Reactivation restores exactly what the removal took.
		res = e.do(t, "PATCH", "/Users/"+m4, `{`+patchSchema+`,"Operations":[{"op":"replace","value":{"active":true}}]}`)
		e.want(t, res, 200)
		e.audited(t, res, "member.restored")
		if !e.access(t, 4, "Desk L-102") {
			t.Error("member 4 has no access after reactivation")
		}
		// Wizard-built apps deactivate with a PUT of the full user.
		res = e.do(t, "PUT", "/Users/"+m4, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"`+m4+`",
			"userName":"example@example.com","name":{"givenName":"Ex","familyName":"Ample"},
			"emails":[{"primary":true,"value":"example@example.com","type":"work"}],"active":false,"groups":[],
			"meta":{"resourceType":"User"}}`)
		e.want(t, res, 200)
		if e.access(t, 4, "Desk L-102") {
			t.Error("member 4 keeps access after the PUT")
		}
		e.audited(t, res, "member.removed")

		// Group push: a new group, then Okta's membership updates.
		res = e.do(t, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Okta Pushed","members":[]}`)
		e.want(t, res, 201)
		pushed := res.json["id"].(string)
		res = e.do(t, "PATCH", "/Groups/"+pushed, `{`+patchSchema+`,"Operations":[{"op":"add","path":"members","value":[{"value":"`+dana+`","display":"dana.new@acme.test"},{"value":"`+e.uuid(t, 12)+`"}]}]}`)
		e.want(t, res, 204)
		e.audited(t, res, "group_member.added")
		// Removing member 13 from the door group takes the front door
		// (which came only through it); member 12 keeps it (held directly).
		doors := demo.TedeeGroupUUID
		for _, id := range []int64{13, 12} {
			res = e.do(t, "PATCH", "/Groups/"+doors, `{`+patchSchema+`,"Operations":[{"op":"remove","path":"members[value eq \"`+e.uuid(t, id)+`\"]"}]}`)
			e.want(t, res, 204)
			e.audited(t, res, "group_member.removed")
		}
		if e.access(t, 13, "Front door lock") {
			t.Error("member 13 keeps the front door after leaving the door group")
		}
		if !e.access(t, 12, "Front door lock") {
			t.Error("member 12 lost the directly granted front door")
		}
		if got := fmt.Sprint(e.groupMembers(t, demo.GroupDoors)); got != "[10 11 14 15]" {
			t.Errorf("door group %s", got)
		}
		// A full replace of members.
		res = e.do(t, "PATCH", "/Groups/"+doors, `{`+patchSchema+`,"Operations":[{"op":"replace","path":"members","value":[{"value":"`+e.uuid(t, 10)+`"},{"value":"`+e.uuid(t, 13)+`"}]}]}`)
		e.want(t, res, 204)
		if got := fmt.Sprint(e.groupMembers(t, demo.GroupDoors)); got != "[10 13]" {
			t.Errorf("door group after replace %s", got)
		}
		if e.access(t, 14, "Front door lock") || !e.access(t, 13, "Front door lock") {
			t.Error("replace did not move the front door with the membership")
		}
		// Okta renames with a path-less replace whose value carries the id.
		res = e.do(t, "PATCH", "/Groups/"+doors+"?excludedAttributes=members", `{`+patchSchema+`,"Operations":[{"op":"replace","value":{"id":"`+doors+`","displayName":"Door access (Okta)"}}]}`)
		e.want(t, res, 200)
		if res.json["displayName"] != "Door access (Okta)" || res.json["members"] != nil {
			t.Errorf("rename: %s", res.Body)
		}
		e.audited(t, res, "group.renamed")
		res = e.do(t, "PUT", "/Groups/"+pushed, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"`+pushed+`","displayName":"Okta Pushed","members":[{"value":"`+dana+`"}]}`)
		e.want(t, res, 200)
		if n := len(res.json["members"].([]any)); n != 1 {
			t.Errorf("PUT left %d members", n)
		}

		// DELETE removes; the user then answers 404 while history stays.
		res = e.do(t, "DELETE", "/Users/"+dana, "")
		e.want(t, res, 204)
		e.audited(t, res, "member.removed")
		e.want(t, e.do(t, "GET", "/Users/"+dana, ""), 404)
		e.want(t, e.do(t, "PATCH", "/Users/"+dana, `{"Operations":[{"op":"replace","value":{"active":true}}]}`), 404)
		res = e.do(t, "GET", "/Users?"+q(`filter=userName eq "dana.new@acme.test"`), "")
		if res.json["totalResults"].(float64) != 0 {
			t.Errorf("deleted user still listed: %s", res.Body)
		}
		hist, err := e.Svc.History(context.Background(), e.Owner, membership.MemberRef{UUID: dana})
		if err != nil || len(hist.Periods) != 1 || hist.Periods[0].EndedAt == nil {
			t.Fatalf("history after DELETE: %+v %v", hist, err)
		}
		// Re-creating re-activates the same membership as a new user (no
		// groups), with one history.
		res = e.do(t, "POST", "/Users", `{"userName":"dana.new@acme.test","name":{"givenName":"Dana","familyName":"New"},"active":true}`)
		e.want(t, res, 201)
		if res.json["id"] != dana {
			t.Errorf("re-create made a new id %v, want %s", res.json["id"], dana)
		}
		if hist, _ := e.Svc.History(context.Background(), e.Owner, membership.MemberRef{UUID: dana}); len(hist.Periods) != 2 {
			t.Errorf("re-create: %d periods, want 2", len(hist.Periods))
		}
		e.golden(t, "okta.golden")
	})
}

// TestEntra replays what Microsoft Entra ID sends (its SCIM guide and
// "Known issues and resolutions with SCIM 2.0 protocol compliance").
func TestEntra(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		// The validator's probe with a random value, then the real lookup.
		res := e.do(t, "GET", "/Users?"+q(`filter=userName eq "7d6f2c4b-8d3a-4b1e-9c2d-1a2b3c4d5e6f"`), "")
		e.want(t, res, 200)
		res = e.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@acme.test",
			"active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@acme.test"}],
			"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
			"roles":[],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Sales","manager":{"value":"x"}}}`)
		e.want(t, res, 201)
		user := res.json["id"].(string)
		for _, f := range []string{
			`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`,
			`emails[type eq "work"].value eq "test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1@acme.test"`,
			`userName eq "TEST_USER_ab6490ee-1e48-479e-a20b-2d77186b5dd1@acme.test"`,
		} {
			res = e.do(t, "GET", "/Users?"+q("filter="+f), "")
			if res.Status != 200 || res.json["totalResults"].(float64) != 1 {
				t.Errorf("filter %s: %s", f, res.Body)
			}
		}
		// externalId is case-exact.
		res = e.do(t, "GET", "/Users?"+q(`filter=externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"`), "")
		if res.json["totalResults"].(float64) != 0 {
			t.Errorf("externalId matched case-insensitively: %s", res.Body)
		}
		// Attribute updates with capitalised ops and value-path paths.
		res = e.do(t, "PATCH", "/Users/"+user, `{`+patchSchema+`,"Operations":[
			{"op":"Replace","path":"name.givenName","value":"Grace"},
			{"op":"Replace","path":"name.familyName","value":"Hopper"},
			{"op":"Add","path":"displayName","value":"Grace Hopper"},
			{"op":"Replace","path":"emails[type eq \"work\"].value","value":"grace@acme.test"},
			{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Navy"},
			{"op":"Add","path":"phoneNumbers[type eq \"work\"].value","value":"+1 555 0100"}]}`)
		e.want(t, res, 200)
		if res.json["displayName"] != "Grace Hopper" || res.json["name"].(map[string]any)["givenName"] != "Grace" {
			t.Errorf("attribute update: %s", res.Body)
		}
		// Deactivation with a capitalised op and the string "False", of
		// member 900 who holds the deal room directly.
		m900 := e.uuid(t, 900)
		res = e.do(t, "PATCH", "/Users/"+m900, `{`+patchSchema+`,"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
		e.want(t, res, 200)
		if e.access(t, 900, "Deal room 1") {
			t.Error("member 900 keeps the deal room after deactivation")
		}
		e.audited(t, res, "member.removed")
		res = e.do(t, "GET", "/Users/"+m900, "")
		if res.Status != 200 || res.json["active"] != false {
			t.Errorf("deactivated user: %d %s", res.Status, res.Body)
		}
		res = e.do(t, "PATCH", "/Users/"+m900, `{`+patchSchema+`,"Operations":[{"op":"Replace","path":"active","value":"True"}]}`)
		e.want(t, res, 200)
		if !e.access(t, 900, "Deal room 1") {
			t.Error("member 900 has no deal room after reactivation")
		}

		// Groups: lookup without members, then Remove with a value list
		// removes only the listed members, never the whole group.
		res = e.do(t, "GET", "/Groups?excludedAttributes=members&"+q(`filter=displayName eq "Engineering"`), "")
		e.want(t, res, 200)
		groups := res.json["Resources"].([]any)
		if len(groups) != 1 || groups[0].(map[string]any)["members"] != nil {
			t.Fatalf("group lookup: %s", res.Body)
		}
		eng := groups[0].(map[string]any)["id"].(string)
		res = e.do(t, "GET", "/Groups?excludedAttributes=members&"+q(`filter=id eq "`+eng+`" and members[value eq "`+e.uuid(t, 12)+`"]`), "")
		if res.json["totalResults"].(float64) != 1 {
			t.Errorf("membership probe: %s", res.Body)
		}
		before := len(e.groupMembers(t, demo.GroupEng))
		res = e.do(t, "PATCH", "/Groups/"+eng, `{`+patchSchema+`,"Operations":[{"op":"Remove","path":"members","value":[{"value":"`+e.uuid(t, 12)+`"}]}]}`)
		e.want(t, res, 204)
		e.audited(t, res, "group_member.removed")
		if after := len(e.groupMembers(t, demo.GroupEng)); after != before-1 {
			t.Fatalf("Remove with a value list left %d of %d members", after, before)
		}
		if e.access(t, 12, "Server room lock") {
			t.Error("member 12 keeps the server room after leaving Engineering")
		}
		if !e.access(t, 12, "Front door lock") {
			t.Error("member 12 lost the front door, which did not come through Engineering")
		}
		res = e.do(t, "PATCH", "/Groups/"+eng, `{`+patchSchema+`,"Operations":[{"op":"Add","path":"members","value":[{"value":"`+e.uuid(t, 12)+`"}]}]}`)
		e.want(t, res, 204)
		if !e.access(t, 12, "Server room lock") {
			t.Error("Add did not bring the server room back")
		}
		// An empty Operations list changes nothing and answers cleanly.
		digest := e.Digest(t)
		e.want(t, e.do(t, "PATCH", "/Groups/"+eng, `{`+patchSchema+`,"Operations":[]}`), 204)
		e.want(t, e.do(t, "PATCH", "/Users/"+user, `{`+patchSchema+`,"Operations":[]}`), 200)
		if e.Digest(t) != digest {
			t.Error("an empty PATCH changed something")
		}
		res = e.do(t, "DELETE", "/Users/"+user, "")
		e.want(t, res, 204)
		e.want(t, e.do(t, "GET", "/Users/"+user, ""), 404)
		e.golden(t, "entra.golden")
	})
}
