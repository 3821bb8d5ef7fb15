package tedee

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is the demo organization behind a loopback server speaking Tedee.
type env struct {
	*dialecttest.Env
	url   string // the server with generous rate limits
	tight string // the same service behind dialecttest.TightLimits
}

func newEnv(tb testing.TB, engine string) *env {
	tb.Helper()
	e := &env{Env: dialecttest.Load(tb, engine, dialecttest.LoadTime)}
	e.url, e.tight = e.ServeLimited(tb, "/api/v37/", NewHandler)
	return e
}

// membersURL is the seed's path for organization org and group groupID.
func (e *env) membersURL(org, groupID string) string {
	return fmt.Sprintf("%s/api/v37/organization/%s/user-groups/%s/members", e.url, org, groupID)
}

// remove sends the seed's call for the demo's organization and door group.
func (e *env) remove(tb testing.TB, token, body string) (*http.Response, []byte) {
	tb.Helper()
	return dialecttest.Call(tb, http.MethodDelete, e.membersURL("1", demo.TedeeGroupUUID), token, body,
		"Accept", "application/json", "Content-Type", "application/json")
}

func (e *env) doors() int64 { return e.Demo.Groups[demo.GroupDoors] }

// readd puts members back into the door group as the owner, who added
// them in the demo, so that the next example starts from the demo's state.
func (e *env) readd(tb testing.TB, ids []int64) {
	tb.Helper()
	for _, id := range ids {
		if _, err := e.Svc.AddGroupMember(context.Background(), e.Owner, membership.Ref{ID: e.doors()}, membership.MemberRef{ID: id}); err != nil {
			tb.Fatalf("put %d back: %v", id, err)
		}
	}
}

// access reports whether member id can use the named demo resource now.
func (e *env) access(tb testing.TB, id int64, resource string) *membership.Access {
	tb.Helper()
	acc, err := e.Svc.CheckAccess(context.Background(), e.Owner, membership.MemberRef{ID: id}, membership.Ref{ID: e.Demo.Resources[resource]})
	if err != nil {
		tb.Fatal(err)
	}
	return acc
}

// golden compares got with testdata/golden/name byte for byte.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	dialecttest.Golden(tb, filepath.Join("testdata", "golden", name), got)
}

const seedBase = "https://api.tedee.com"

// curlRequest builds the request a seed's curl line makes, verbatim except
// for the base URL and its two placeholders.
func curlRequest(tb testing.TB, line, base, token, body string) *http.Request {
	tb.Helper()
	args := shellWords(tb, line)
	if len(args) == 0 || args[0] != "curl" {
		tb.Fatalf("not a curl line: %s", line)
	}
	method, url, data := "", "", ""
	var headers [][2]string
	for i := 1; i < len(args); i++ {
		next := func() string {
			i++
			if i >= len(args) {
				tb.Fatalf("%s needs a value: %s", args[i-1], line)
			}
			return args[i]
		}
		switch a := args[i]; a {
		case "-X":
			method = next()
		case "-H":
			name, value, ok := strings.Cut(next(), ":")
			if !ok {
				tb.Fatalf("bad header in %s", line)
			}
			headers = append(headers, [2]string{name, strings.TrimSpace(value)})
		case "-d":
			data = next()
		default:
			if strings.HasPrefix(a, "-") {
				tb.Fatalf("curl flag %s not understood", a)
			}
			url = a
		}
	}
	if !strings.HasPrefix(url, seedBase) {
		tb.Fatalf("url %s is not Tedee's", url)
	}
	data = strings.ReplaceAll(data, "<<body>>", body)
	req, err := http.NewRequest(method, base+strings.TrimPrefix(url, seedBase), strings.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	for _, h := range headers {
		req.Header.Add(h[0], strings.ReplaceAll(h[1], "<<access token>>", token))
	}
	return req
}

// shellWords splits a command line on spaces outside double quotes.
func shellWords(tb testing.TB, line string) []string {
	tb.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			quoted, inWord = !quoted, true
		case c == '\\' && quoted && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		tb.Fatalf("unbalanced quotes: %s", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func parseResponse(tb testing.TB, body []byte) []result {
	tb.Helper()
	var out response
	if err := json.Unmarshal(body, &out); err != nil {
		tb.Fatalf("parse %s: %v", body, err)
	}
	return out.OrganizationUsers
}

func res(id string, errMsg string) result {
	r := result{OrganizationUserID: json.Number(id), Success: errMsg == ""}
	if errMsg != "" {
		r.Error = &errMsg
	}
	return r
}

func errJSON(status int, msg string) string {
	data, _ := json.Marshal(errorBody{ErrorMessages: []string{msg}, StatusCode: status})
	return string(data) + "\n"
}

// TestRemoveMembersSeed replays both of the seed's examples, curl line,
// body and sample response, on each engine.
func TestRemoveMembersSeed(t *testing.T) {
	for _, engine := range dialecttest.Engines {
		t.Run(engine, func(t *testing.T) {
			e := newEnv(t, engine)
			original := e.ActiveGroupMembers(t, e.doors())
			for _, ex := range []struct {
				name    string
				removed []int64
			}{
				{"single", []int64{12}},
				{"multiple", []int64{11, 12, 13}},
			} {
				t.Run(ex.name, func(t *testing.T) {
					if got := e.ActiveGroupMembers(t, e.doors()); !slices.Equal(got, original) {
						t.Fatalf("door group %v, want the demo's %v", got, original)
					}
					defer e.readd(t, ex.removed)
					mark := e.LastEventID(t, 1)
					req := curlRequest(t, dialecttest.Seed(t, ex.name+".curl"), e.url, e.Demo.OwnerToken, dialecttest.Seed(t, ex.name+".body.json"))
					resp, body := dialecttest.Do(t, req)
					dialecttest.WantStatus(t, resp, body, 207)
					if got := fmt.Sprint(resp.StatusCode); got != dialecttest.Seed(t, ex.name+".status") {
						t.Errorf("status %s, the seed says %s", got, dialecttest.Seed(t, ex.name+".status"))
					}
					dialecttest.WantHeader(t, resp, "Content-Type", "application/json")
					golden(t, ex.name+".json", body)

					got := parseResponse(t, body)
					var sample response
					if err := json.Unmarshal([]byte(dialecttest.Seed(t, ex.name+".response.json")), &sample); err != nil {
						t.Fatal(err)
					}
					// The seed's "multiple" sample shows two results for three
					// ids; memberd reports every id, so the sample must be a
					// prefix of the answer and the rest must be the ids left.
					if len(got) != len(ex.removed) || !reflect.DeepEqual(got[:len(sample.OrganizationUsers)], sample.OrganizationUsers) {
						t.Errorf("results %s, want the seed's %v then the rest", body, sample.OrganizationUsers)
					}
					for i, r := range got {
						if want := res(fmt.Sprint(ex.removed[i]), ""); !reflect.DeepEqual(r, want) {
							t.Errorf("result %d: %+v, want %+v", i, r, want)
						}
					}
					if got, want := e.ActiveGroupMembers(t, e.doors()), without(original, ex.removed...); !slices.Equal(got, want) {
						t.Errorf("door group %v, want %v", got, want)
					}
					// The seed's note: only access through the group goes.
					for _, id := range ex.removed {
						acc := e.access(t, id, "Front door lock")
						if wantAllowed := id == 12; acc.Allowed != wantAllowed || acc.Direct != wantAllowed || len(acc.GroupIDs) != 0 {
							t.Errorf("member %d front door access %+v, want allowed=%v only directly", id, acc, wantAllowed)
						}
					}
					if acc := e.access(t, 12, "Server room lock"); !acc.Allowed {
						t.Errorf("member 12 lost the server room, granted through another group: %+v", acc)
					}
					evs, err := e.Svc.Events(context.Background(), e.Owner, membership.EventListParams{Action: "group_member.removed", Limit: 100})
					if err != nil {
						t.Fatal(err)
					}
					n := 0
					for _, ev := range evs {
						if ev.ID > mark && ev.Interface == Interface {
							n++
						}
					}
					if n != len(ex.removed) {
						t.Errorf("%d group_member.removed events through tedee, want %d", n, len(ex.removed))
					}
				})
			}
		})
	}
}

func without(ids []int64, gone ...int64) []int64 {
	return slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return slices.Contains(gone, id) })
}

// TestRemoveMembers covers each per-id outcome, the rights rule and the
// whole-request refusals.
func TestRemoveMembers(t *testing.T) {
	t.Parallel()
	t.Run("Outcomes", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		// 14 leaves the organization first: their group membership went with it.
		if _, err := e.Svc.RemoveMember(context.Background(), e.Owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: 14}}); err != nil {
			t.Fatal(err)
		}
		resp, body := e.remove(t, e.Demo.OwnerToken, `{"organizationUserIds":[11,11,5000,20,0,-3,1.5,12,1e1,14]}`)
		dialecttest.WantStatus(t, resp, body, 207)
		golden(t, "outcomes.json", body)
		want := []result{
			res("11", ""), res("11", msgAlreadyRemoved), res("5000", msgNotInOrg), res("20", msgNotInGroup),
			res("0", msgInvalid), res("-3", msgInvalid), res("1.5", msgInvalid), res("12", ""), res("1e1", msgInvalid),
			res("14", msgAlreadyRemoved),
		}
		if got := parseResponse(t, body); !reflect.DeepEqual(got, want) {
			t.Errorf("got %s", body)
		}
		if got, want := e.ActiveGroupMembers(t, e.doors()), []int64{10, 13, 15}; !slices.Equal(got, want) {
			t.Errorf("door group %v, want %v", got, want)
		}
	})
	t.Run("AllFailedIsStill207", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		before := e.Snapshot(t)
		resp, body := e.remove(t, e.Demo.OwnerToken, `{"organizationUserIds":[5000,20]}`)
		dialecttest.WantStatus(t, resp, body, 207)
		if want := []result{res("5000", msgNotInOrg), res("20", msgNotInGroup)}; !reflect.DeepEqual(parseResponse(t, body), want) {
			t.Errorf("got %s", body)
		}
		e.AssertSnapshot(t, before)
	})
	t.Run("Rights", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		if _, err := e.Svc.AddGroupMember(context.Background(), e.Owner, membership.Ref{ID: e.doors()}, membership.MemberRef{ID: 1}); err != nil {
			t.Fatal(err)
		}
		// An admin removes members someone else added, but not an owner.
		resp, body := e.remove(t, e.Demo.AdminToken, `{"organizationUserIds":[10,1]}`)
		dialecttest.WantStatus(t, resp, body, 207)
		if want := []result{res("10", ""), res("1", msgNoRights)}; !reflect.DeepEqual(parseResponse(t, body), want) {
			t.Errorf("got %s", body)
		}
		resp, body = e.remove(t, e.Demo.OwnerToken, `{"organizationUserIds":[1]}`)
		dialecttest.WantStatus(t, resp, body, 207)
		if want := []result{res("1", "")}; !reflect.DeepEqual(parseResponse(t, body), want) {
			t.Errorf("got %s", body)
		}
	})
	t.Run("CaseInsensitiveKeyAndUnknownKeys", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		resp, body := e.remove(t, e.Demo.OwnerToken, `{"note":{"x":[1]},"OrganizationUserIDs":[15]}`)
		dialecttest.WantStatus(t, resp, body, 207)
		if want := []result{res("15", "")}; !reflect.DeepEqual(parseResponse(t, body), want) {
			t.Errorf("got %s", body)
		}
	})

	ids := make([]string, 101)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	bad := []struct {
		name, body string
		status     int
		msg        string
	}{
		{"Empty", "", 400, "A non-empty request body is required."},
		{"NotJSON", "organizationUserIds=12", 400, `The request body must be a JSON object such as {"organizationUserIds":[12]}.`},
		{"Array", "[12]", 400, `The request body must be a JSON object such as {"organizationUserIds":[12]}.`},
		{"Trailing", `{"organizationUserIds":[12]}x`, 400, `The request body must be a JSON object such as {"organizationUserIds":[12]}.`},
		{"Missing", `{"userIds":[12]}`, 400, "The organizationUserIds field is required and must list at least one organization user id."},
		{"Null", `{"organizationUserIds":null}`, 400, "The organizationUserIds field is required and must list at least one organization user id."},
		{"EmptyList", `{"organizationUserIds":[]}`, 400, "The organizationUserIds field is required and must list at least one organization user id."},
		{"Strings", `{"organizationUserIds":["12"]}`, 400, "organizationUserIds must be a list of numbers."},
		{"Nested", `{"organizationUserIds":[[12]]}`, 400, "organizationUserIds must be a list of numbers."},
		{"Scalar", `{"organizationUserIds":12}`, 400, "organizationUserIds must be a list of numbers."},
		{"Twice", `{"organizationUserIds":[12],"organizationuserids":[13]}`, 400, "organizationUserIds is given more than once."},
		{"TooMany", `{"organizationUserIds":[` + strings.Join(ids, ",") + `]}`, 400, "At most 100 organization users can be removed in one request."},
		{"TooLarge", `{"organizationUserIds":[1` + strings.Repeat("0", MaxBody) + `]}`, 413, fmt.Sprintf("request body is larger than the limit of %d bytes", MaxBody)},
	}
	t.Run("BadBodies", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		before := e.Snapshot(t)
		for _, c := range bad {
			t.Run(c.name, func(t *testing.T) {
				mark := e.LastEventID(t, 1)
				resp, body := e.remove(t, e.Demo.OwnerToken, c.body)
				dialecttest.WantStatus(t, resp, body, c.status)
				dialecttest.WantHeader(t, resp, "Content-Type", "application/json")
				if want := errJSON(c.status, c.msg); string(body) != want {
					t.Errorf("got  %s\nwant %s", body, want)
				}
				e.AssertRefusedSince(t, Interface, 1, mark, actionRemoveMembers)
			})
		}
		e.AssertSnapshot(t, before)
	})
	t.Run("BadPaths", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		before := e.Snapshot(t)
		const body = `{"organizationUserIds":[12]}`
		for _, c := range []struct {
			name, url string
			status    int
			msg       string
			action    string
		}{
			{"OrganizationNotANumber", e.membersURL("acme", demo.TedeeGroupUUID), 400, "The value 'acme' is not valid for organizationId.", actionRemoveMembers},
			{"OrganizationZero", e.membersURL("0", demo.TedeeGroupUUID), 400, "The value '0' is not valid for organizationId.", actionRemoveMembers},
			{"GroupNotAUUID", e.membersURL("1", "door-access"), 400, "The value 'door-access' is not valid for groupId.", actionRemoveMembers},
			{"UnknownGroup", e.membersURL("1", "00000000-0000-4000-8000-000000000000"), 404, "group not found", "batch.removed"},
			{"OtherOrganizationID", e.membersURL("2", demo.TedeeGroupUUID), 404, "Organization not found.", actionRemoveMembers},
		} {
			t.Run(c.name, func(t *testing.T) {
				mark := e.LastEventID(t, 1)
				resp, got := dialecttest.Call(t, http.MethodDelete, c.url, e.Demo.OwnerToken, body)
				dialecttest.WantStatus(t, resp, got, c.status)
				if want := errJSON(c.status, c.msg); string(got) != want {
					t.Errorf("got  %s\nwant %s", got, want)
				}
				e.AssertRefusedSince(t, Interface, 1, mark, c.action)
			})
		}
		t.Run("UppercaseUUID", func(t *testing.T) {
			resp, got := dialecttest.Call(t, http.MethodDelete, e.membersURL("1", strings.ToUpper(demo.TedeeGroupUUID)), e.Demo.OwnerToken, `{"organizationUserIds":[5000]}`)
			dialecttest.WantStatus(t, resp, got, 207)
		})
		t.Run("UnknownPath", func(t *testing.T) {
			resp, got := dialecttest.Call(t, http.MethodDelete, e.url+"/api/v37/organization/1/user-groups", e.Demo.OwnerToken, "")
			dialecttest.WantStatus(t, resp, got, 404)
			if want := errJSON(404, "The requested resource does not exist."); string(got) != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
		t.Run("WrongMethod", func(t *testing.T) {
			resp, got := dialecttest.Call(t, http.MethodPost, e.membersURL("1", demo.TedeeGroupUUID), e.Demo.OwnerToken, body)
			dialecttest.WantStatus(t, resp, got, 405)
			dialecttest.WantHeader(t, resp, "Allow", "DELETE")
			if want := errJSON(405, "Method POST is not allowed for this resource."); string(got) != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
		e.AssertSnapshot(t, before)
	})
}

// TestAuthorization is the foundation's authorization matrix in Tedee's
// error format: each refused request changes nothing and is audited.
func TestAuthorization(t *testing.T) {
	for _, engine := range dialecttest.Engines {
		t.Run(engine, func(t *testing.T) {
			testAuthorization(t, engine)
		})
	}
}

func testAuthorization(t *testing.T, engine string) {
	e := newEnv(t, engine)
	// The owner in the door group lets the matrix show an admin refused.
	if _, err := e.Svc.AddGroupMember(context.Background(), e.Owner, membership.Ref{ID: e.doors()}, membership.MemberRef{ID: 1}); err != nil {
		t.Fatal(err)
	}
	tk := e.Tokens(t)
	noScope := e.Credential(t, 1, []string{membership.ScopeMembersWrite}, nil)
	otherOrg := fmt.Sprint(tk.OtherOrgID)
	const body = `{"organizationUserIds":[11,12]}`
	doorsURL := e.membersURL("1", demo.TedeeGroupUUID)
	refusedJSON := func(results ...result) string {
		data, _ := json.Marshal(response{OrganizationUsers: results})
		return string(data) + "\n"
	}
	cases := []struct {
		name    string
		url     string
		token   string
		body    string
		status  int
		want    string
		org     int64 // whose audit trail records the refusal; 0: none
		actions []string
	}{
		{"NoCredential", doorsURL, "", body, 401, errJSON(401, "authentication credentials were not provided"), 0, nil},
		{"NotAToken", doorsURL, "<<access token>>", body, 401, errJSON(401, "invalid token"), 0, nil},
		{"WrongSecret", doorsURL, tk.Wrong, body, 401, errJSON(401, "invalid token"), 1, []string{"request.authenticated"}},
		{"Expired", doorsURL, tk.Expired, body, 401, errJSON(401, "invalid token"), 1, []string{"request.authenticated"}},
		{"Revoked", doorsURL, tk.Revoked, body, 401, errJSON(401, "invalid token"), 1, []string{"request.authenticated"}},
		{"MissingScope", doorsURL, noScope, body, 403,
			errJSON(403, fmt.Sprintf("the credential lacks the %q scope", membership.ScopeTedeeReadWrite)), 1, []string{actionRemoveMembers}},
		{"OtherOrganization", doorsURL, tk.Other, body, 404, errJSON(404, "Organization not found."),
			tk.OtherOrgID, []string{actionRemoveMembers}},
		{"OtherOrganizationOwnPathForeignGroup", e.membersURL(otherOrg, demo.TedeeGroupUUID), tk.Other, body, 404,
			errJSON(404, "group not found"), tk.OtherOrgID, []string{"batch.removed"}},
		{"AdminRemovesOwner", doorsURL, e.Demo.AdminToken, `{"organizationUserIds":[1]}`, 207,
			refusedJSON(res("1", msgNoRights)), 1, []string{"group_member.removed"}},
		{"PlainMember", doorsURL, e.Demo.MemberToken, body, 207,
			refusedJSON(res("11", msgNoRights), res("12", msgNoRights)), 1, []string{"group_member.removed", "group_member.removed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.Snapshot(t)
			marks := e.Mark(t, Interface, tk.OtherOrgID)
			resp, got := dialecttest.Call(t, http.MethodDelete, c.url, c.token, c.body, "Content-Type", "application/json")
			dialecttest.WantStatus(t, resp, got, c.status)
			if string(got) != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			e.AssertSnapshot(t, before)
			e.AssertRefusals(t, marks, c.org, c.actions)
		})
	}
	t.Run("RateLimited", func(t *testing.T) {
		before := e.Snapshot(t)
		url := fmt.Sprintf("%s/api/v37/organization/1/user-groups/%s/members", e.tight, demo.TedeeGroupUUID)
		resp, got := dialecttest.Call(t, http.MethodDelete, url, e.Demo.OwnerToken, `{"organizationUserIds":[5000]}`)
		dialecttest.WantStatus(t, resp, got, 207)
		resp, got = dialecttest.Call(t, http.MethodDelete, url, e.Demo.OwnerToken, body)
		dialecttest.WantStatus(t, resp, got, 429)
		if resp.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		if want := errJSON(429, "rate limit of 0.001 requests per second exceeded"); string(got) != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		e.AssertSnapshot(t, before)
	})
}

// TestWalkthrough runs the README's Tedee section, in order, on one demo,
// and checks the answers it prints.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	resp, body := e.remove(t, e.Demo.OwnerToken, "{\n    \"organizationUserIds\": [12]\n}")
	dialecttest.WantStatus(t, resp, body, 207)
	golden(t, "single.json", body)
	resp, body = e.remove(t, e.Demo.OwnerToken, "{\n    \"organizationUserIds\": [11, 12, 13]\n}")
	dialecttest.WantStatus(t, resp, body, 207)
	want := `{"organizationUsers":[{"organizationUserId":11,"success":true,"error":null},{"organizationUserId":12,"success":false,"error":"Organization user was already removed from this user group."},{"organizationUserId":13,"success":true,"error":null}]}` + "\n"
	if string(body) != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
	if !e.access(t, 12, "Front door lock").Allowed || e.access(t, 11, "Front door lock").Allowed {
		t.Error("after the walkthrough 12 must keep the front door (direct grant) and 11 must not")
	}
}
