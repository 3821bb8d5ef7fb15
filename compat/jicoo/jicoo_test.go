package jicoo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// bundle is a demo organization served by a Jicoo handler on loopback,
// mounted as cmd/memberd mounts it.
type bundle struct{ *dialecttest.Served }

// newBundle loads the demo into a fresh database on engine ("sqlite" or
// "postgres"); the demo's ids are the same on both.
func newBundle(tb testing.TB, engine string, limits auth.Limits) *bundle {
	tb.Helper()
	return &bundle{dialecttest.LoadServed(tb, engine, Prefix, NewHandler, limits,
		func(req *http.Request, key string) { req.Header.Set("X-Jicoo-Api-Key", key) })}
}

// golden compares got with testdata/name.golden.
func golden(tb testing.TB, name, got string) {
	tb.Helper()
	dialecttest.Golden(tb, filepath.Join("testdata", name+".golden"), []byte(got))
}

// curl is the request `curl --location --request DELETE URL --header
// 'X-Jicoo-Api-Key: KEY'` puts on the wire (curl 8); key "" is the seed's
// 'X-Jicoo-Api-Key;', which sends the header with an empty value.
func curl(path, key string) string {
	return "DELETE " + path + " HTTP/1.1\r\n" +
		"Host: 127.0.0.1:8080\r\n" +
		"User-Agent: curl/8.5.0\r\n" +
		"Accept: */*\r\n" +
		"X-Jicoo-Api-Key:" + map[bool]string{true: "", false: " " + key}[key == ""] + "\r\n" +
		"\r\n"
}

func jsonTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// wantUser is a user as Jicoo spells it, written out field by field.
func wantUser(m *membership.Member) string {
	return fmt.Sprintf(`{"id":"%s","name":"%s","email":"%s","role":"%s","createdAt":"%s","updatedAt":"%s"}`,
		m.UUID, m.Name, m.Email, m.Role, jsonTime(m.CreatedAt), jsonTime(m.UpdatedAt))
}

// TestSeed replays the seed's curl line, first verbatim, then filled in.
func TestSeed(t *testing.T) { dialecttest.EachEngine(t, testSeed) }

func testSeed(t *testing.T, engine string) {
	b := newBundle(t, engine, auth.Limits{})
	for _, tc := range []struct {
		name, golden, path, key string
		removes                 int64
	}{
		// The seed's line as printed: no userId and an empty key.
		{"Verbatim", "seed_verbatim", "/v1/organization_users/", "", 0},
		// A key, but still the seed's empty userId.
		{"EmptyUserID", "seed_empty_user_id", "/v1/organization_users/", b.Demo.OwnerToken, 0},
		{"NumericID", "seed_deleted", "/v1/organization_users/4", b.Demo.OwnerToken, 4},
		{"Again", "seed_deleted_again", "/v1/organization_users/4", b.Demo.OwnerToken, 0},
		{"UUID", "seed_deleted", "/v1/organization_users/" + b.Member(t, 7).UUID, b.Demo.AdminToken, 7},
		{"UpperCaseUUID", "seed_deleted", "/v1/organization_users/" + strings.ToUpper(b.Member(t, 8).UUID), b.Demo.AdminToken, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Digest(t)
			resp, body := dialecttest.Raw(t, b.Srv, curl(tc.path, tc.key))
			golden(t, tc.golden, dialecttest.Dump(resp, body))
			reqID := resp.Header.Get("X-Request-Id")
			if tc.removes == 0 {
				b.AssertRefused(t, before, reqID, Interface)
				return
			}
			if m := b.Member(t, tc.removes); m.Active() {
				t.Errorf("member %d still active", tc.removes)
			}
			evs := b.Events(t, reqID)
			if len(evs) != 1 || evs[0].Action != "member.removed" || evs[0].Outcome != membership.OutcomeOK || evs[0].Iface != Interface {
				t.Errorf("events = %+v, want one member.removed through %s", evs, Interface)
			}
		})
	}
}

// TestDeleteRevokesEverything: the user loses access to the organization
// and all its resources at once.
func TestDeleteRevokesEverything(t *testing.T) {
	dialecttest.EachEngine(t, testDeleteRevokesEverything)
}

func testDeleteRevokesEverything(t *testing.T, engine string) {
	ctx := context.Background()
	b := newBundle(t, engine, auth.Limits{})
	twelve := membership.MemberRef{ID: 12} // in two groups and holding a direct grant
	front := membership.Ref{ID: b.Demo.Resources["Front door lock"]}
	server := membership.Ref{ID: b.Demo.Resources["Server room lock"]}
	for _, res := range []membership.Ref{front, server} {
		if acc, err := b.Svc.CheckAccess(ctx, b.Owner, twelve, res); err != nil || !acc.Allowed {
			t.Fatalf("before: access to %d = %+v, %v", res.ID, acc, err)
		}
	}
	r := b.Do(t, http.MethodDelete, "/v1/organization_users/12", b.Demo.OwnerToken, "", "")
	if r.Status != http.StatusNoContent || r.Body != "" {
		t.Fatalf("DELETE: %d %q", r.Status, r.Body)
	}
	for _, res := range []membership.Ref{front, server} {
		if acc, err := b.Svc.CheckAccess(ctx, b.Owner, twelve, res); err != nil || acc.Allowed {
			t.Errorf("after: access to %d = %+v, %v; want none", res.ID, acc, err)
		}
	}
	at := b.Clock.Now().Add(48 * time.Hour).Truncate(time.Hour)
	_, err := b.Svc.CreateBooking(ctx, b.Owner, membership.CreateBookingRequest{Resource: front, Member: &twelve,
		StartsAt: at, EndsAt: at.Add(time.Hour)})
	if membership.ErrorCode(err) != membership.CodeForbidden {
		t.Errorf("booking after removal: %v, want forbidden", err)
	}
	for _, g := range []string{"Door access", "Engineering"} {
		gms, err := b.Svc.GroupMembers(ctx, b.Owner, membership.Ref{ID: b.Demo.Groups[g]}, membership.StatusActive)
		if err != nil {
			t.Fatal(err)
		}
		for _, gm := range gms {
			if gm.MemberID == 12 {
				t.Errorf("member 12 still active in group %s", g)
			}
		}
	}
	if g := b.Do(t, http.MethodGet, "/v1/organization_users/12", b.Demo.OwnerToken, "", ""); g.Status != http.StatusNotFound {
		t.Errorf("GET after DELETE: %d %s", g.Status, g.Body)
	}
}

func TestList(t *testing.T) { dialecttest.EachEngine(t, testList) }

func testList(t *testing.T, engine string) {
	b := newBundle(t, engine, auth.Limits{})
	one, two := b.Member(t, 1), b.Member(t, 2)
	t.Run("FirstPageExact", func(t *testing.T) {
		r := b.Do(t, http.MethodGet, "/v1/organization_users?perPage=2", b.Demo.MemberToken, "", "")
		want := `{"data":[` + wantUser(one) + `,` + wantUser(two) + `],` +
			`"pagination":{"totalCount":1000,"count":2,"currentPage":1,"nextPage":2,"numberOfPages":500}}`
		if r.Status != http.StatusOK || r.Body != want {
			t.Errorf("got %d %s\nwant 200 %s", r.Status, r.Body, want)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
	})
	if r := b.Do(t, http.MethodDelete, "/v1/organization_users/4", b.Demo.OwnerToken, "", ""); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct {
		query                      string
		count, total, first, pages int
		next                       string
	}{
		{"", 20, 999, 1, 50, "2"},
		{"?page=2&perPage=10", 10, 999, 12, 100, "3"}, // member 4 is gone: page 1 is 1–3, 5–11
		{"?page=10&perPage=100", 99, 999, 902, 10, "null"},
		{"?page=11&perPage=100", 0, 999, 0, 10, "null"},
		{"?page=&perPage=", 20, 999, 1, 50, "2"},
	} {
		t.Run("Page"+tc.query, func(t *testing.T) {
			r := b.Do(t, http.MethodGet, "/v1/organization_users"+tc.query, b.Demo.OwnerToken, "", "")
			if r.Status != http.StatusOK {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
			var got struct {
				Data []struct {
					ID    string `json:"id"`
					Email string `json:"email"`
				} `json:"data"`
				Pagination map[string]json.RawMessage `json:"pagination"`
			}
			if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Data) != tc.count {
				t.Fatalf("%d users, want %d", len(got.Data), tc.count)
			}
			if tc.count > 0 && got.Data[0].ID != b.Member(t, int64(tc.first)).UUID {
				t.Errorf("first user %s, want member %d", got.Data[0].Email, tc.first)
			}
			for _, u := range got.Data {
				if u.Email == "example@example.com" {
					t.Error("the removed user is listed")
				}
			}
			p := got.Pagination
			if string(p["totalCount"]) != strconv.Itoa(tc.total) || string(p["count"]) != strconv.Itoa(tc.count) ||
				string(p["numberOfPages"]) != strconv.Itoa(tc.pages) || string(p["nextPage"]) != tc.next {
				t.Errorf("pagination = %s", r.Body[strings.Index(r.Body, `"pagination"`):])
			}
		})
	}
}

func TestGetAndPatch(t *testing.T) { dialecttest.EachEngine(t, testGetAndPatch) }

func testGetAndPatch(t *testing.T, engine string) {
	b := newBundle(t, engine, auth.Limits{})
	six := b.Member(t, 6)
	t.Run("GetByIDAndUUID", func(t *testing.T) {
		want := `{"data":` + wantUser(six) + `}`
		for _, id := range []string{"6", six.UUID} {
			r := b.Do(t, http.MethodGet, "/v1/organization_users/"+id, b.Demo.MemberToken, "", "")
			if r.Status != http.StatusOK || r.Body != want {
				t.Errorf("GET %s = %d %s, want %s", id, r.Status, r.Body, want)
			}
		}
	})
	t.Run("PatchName", func(t *testing.T) {
		r := b.Do(t, http.MethodPatch, "/v1/organization_users/6", b.Demo.AdminToken, "application/json", `{"name":"Sixth <Member>","extra":true}`)
		after := b.Member(t, 6)
		if after.Name != "Sixth <Member>" || after.Role != membership.RoleMember {
			t.Errorf("member 6 = %+v", after)
		}
		if want := `{"data":` + strings.ReplaceAll(strings.ReplaceAll(wantUser(after), "<", `\u003c`), ">", `\u003e`) + `}`; r.Status != http.StatusOK || r.Body != want {
			t.Errorf("got %d %s\nwant 200 %s", r.Status, r.Body, want)
		}
	})
	t.Run("PatchRole", func(t *testing.T) {
		r := b.Do(t, http.MethodPatch, "/v1/organization_users/"+six.UUID, b.Demo.OwnerToken, "", `{"role":"admin","name":null}`)
		if after := b.Member(t, 6); r.Status != http.StatusOK || after.Role != membership.RoleAdmin || after.Name != "Sixth <Member>" {
			t.Errorf("got %d %s; member 6 = %+v", r.Status, r.Body, after)
		}
	})
	t.Run("MemberRenamesThemselves", func(t *testing.T) {
		r := b.Do(t, http.MethodPatch, "/v1/organization_users/5", b.Demo.MemberToken, "application/merge-patch+json", `{"name":"Five"}`)
		if r.Status != http.StatusOK || b.Member(t, 5).Name != "Five" {
			t.Errorf("got %d %s", r.Status, r.Body)
		}
	})
}

// TestErrors checks each refusal's status and Jicoo body, and that it
// changed nothing and was audited.
func TestErrors(t *testing.T) { dialecttest.EachEngine(t, testErrors) }

func testErrors(t *testing.T, engine string) {
	b := newBundle(t, engine, auth.Limits{})
	if r := b.Do(t, http.MethodDelete, "/v1/organization_users/9", b.Demo.OwnerToken, "", ""); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	body := func(code, msg string) string {
		return `{"errors":{"code":"` + code + `","message":"` + msg + `"}}`
	}
	notFound := body("not_found", "The requested resource doesn't exist.")
	forbidden := body("forbidden", "The API key doesn't have permissions to perform the request.")
	const users = "/v1/organization_users"
	for _, tc := range []struct {
		name, method, path, key, contentType, body string
		status                                     int
		want, allow                                string
	}{
		{"ListPost", "POST", users, "", "application/json", `{}`, 405, body("method_not_allowed", "Method POST is not allowed on this resource."), "GET"},
		{"UserPut", "PUT", users + "/6", "", "application/json", `{}`, 405, body("method_not_allowed", "Method PUT is not allowed on this resource."), "GET, PATCH, DELETE"},
		{"UnknownPath", "GET", "/v1/bookings", "", "", ``, 404, notFound, ""},
		{"DeeperPath", "DELETE", users + "/6/x", "", "", ``, 404, notFound, ""},
		{"BadPage", "GET", users + "?page=0", "", "", ``, 400, body("bad_request", "Page must be an integer between 1 and 1000000."), ""},
		{"PageNotANumber", "GET", users + "?page=two", "", "", ``, 400, body("bad_request", "Page must be an integer between 1 and 1000000."), ""},
		{"PerPageTooBig", "GET", users + "?perPage=101", "", "", ``, 400, body("bad_request", "PerPage must be an integer between 1 and 100."), ""},
		{"GetUnknown", "GET", users + "/99999", "", "", ``, 404, notFound, ""},
		{"GetNotAnID", "GET", users + "/abc", "", "", ``, 404, notFound, ""},
		{"GetZero", "GET", users + "/0", "", "", ``, 404, notFound, ""},
		{"GetRemoved", "GET", users + "/9", "", "", ``, 404, notFound, ""},
		{"GetEmptyID", "GET", users + "/", "", "", ``, 400, body("bad_request", "The userId path parameter is required."), ""},
		{"DeleteUnknown", "DELETE", users + "/99999", "", "", ``, 404, notFound, ""},
		{"DeleteRemoved", "DELETE", users + "/9", "", "", ``, 404, notFound, ""},
		{"DeleteLastOwner", "DELETE", users + "/1", "", "", ``, 422, body("unprocessable_entity", "Cannot remove the last owner of the organization."), ""},
		{"PatchNotJSON", "PATCH", users + "/6", "", "application/x-www-form-urlencoded", `name=x`, 415, body("unsupported_media_type", "Content-Type must be application/json."), ""},
		{"PatchEmpty", "PATCH", users + "/6", "", "application/json", ``, 400, body("bad_request", "The request body must be a JSON object with name or role."), ""},
		{"PatchMalformed", "PATCH", users + "/6", "", "application/json", `{"name":`, 400, body("bad_request", "The request body must be a JSON object with name or role."), ""},
		{"PatchArray", "PATCH", users + "/6", "", "application/json", `["x"]`, 400, body("bad_request", "The request body must be a JSON object with name or role."), ""},
		{"PatchTrailing", "PATCH", users + "/6", "", "application/json", `{"name":"a"} x`, 400, body("bad_request", "The request body must hold one JSON object."), ""},
		{"PatchNothing", "PATCH", users + "/6", "", "application/json", `{"nickname":"x"}`, 400, body("bad_request", "Name or role is required."), ""},
		{"PatchNameNotString", "PATCH", users + "/6", "", "application/json", `{"name":5}`, 400, body("bad_request", "Name must be a string."), ""},
		{"PatchRoleNotString", "PATCH", users + "/6", "", "application/json", `{"role":["admin"]}`, 400, body("bad_request", "Role must be a string."), ""},
		{"PatchBlankName", "PATCH", users + "/6", "", "application/json", `{"name":"  "}`, 422, body("unprocessable_entity", "Name can't be blank."), ""},
		{"PatchLongName", "PATCH", users + "/6", "", "application/json", `{"name":"` + strings.Repeat("n", 201) + `"}`, 422, body("unprocessable_entity", "Name is too long (maximum is 200 characters)."), ""},
		{"PatchNulInName", "PATCH", users + "/6", "", "application/json", `{"name":"a\u0000b"}`, 422, body("unprocessable_entity", "Name can't contain null characters."), ""},
		{"PatchBadRole", "PATCH", users + "/6", "", "application/json", `{"role":"superuser"}`, 422, body("unprocessable_entity", "Role is not included in the list (owner, admin, member)."), ""},
		{"PatchLastOwner", "PATCH", users + "/1", "", "application/json", `{"role":"member"}`, 422, body("unprocessable_entity", "Cannot remove the last owner of the organization."), ""},
		{"PatchRemoved", "PATCH", users + "/9", "", "application/json", `{"name":"Back"}`, 404, notFound, ""},
		{"PatchUnknown", "PATCH", users + "/99999", "", "application/json", `{"name":"X"}`, 404, notFound, ""},
		{"PatchTooLarge", "PATCH", users + "/6", "", "application/json", `{"name":"` + strings.Repeat("n", MaxBody) + `"}`, 413, body("payload_too_large", "Request body is larger than the limit of 65536 bytes."), ""},
		{"MemberRenamesOther", "PATCH", users + "/6", "member", "application/json", `{"name":"X"}`, 403, forbidden, ""},
		{"MemberPromotesThemselves", "PATCH", users + "/5", "member", "application/json", `{"role":"admin"}`, 403, forbidden, ""},
		{"AdminPromotesToOwner", "PATCH", users + "/6", "admin", "application/json", `{"role":"owner"}`, 403, forbidden, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := b.Demo.OwnerToken
			switch tc.key {
			case "member":
				key = b.Demo.MemberToken
			case "admin":
				key = b.Demo.AdminToken
			}
			before := b.Digest(t)
			r := b.Do(t, tc.method, tc.path, key, tc.contentType, tc.body)
			if r.Status != tc.status || r.Body != tc.want {
				t.Errorf("got %d %s\nwant %d %s", r.Status, r.Body, tc.status, tc.want)
			}
			if got := r.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			b.AssertRefused(t, before, r.RequestID, Interface)
		})
	}
}

// TestAuthorization is the authorization matrix in Jicoo's words.
func TestAuthorization(t *testing.T) { dialecttest.EachEngine(t, testAuthorization) }

func testAuthorization(t *testing.T, engine string) {
	b := newBundle(t, engine, auth.Limits{})
	tk := b.Tokens(t)
	writeOnly := b.Credential(t, 1, []string{membership.ScopeMembersWrite}, nil)
	const (
		unauthorized = `{"errors":{"code":"unauthorized","message":"No valid API key provided."}}`
		forbidden    = `{"errors":{"code":"forbidden","message":"The API key doesn't have permissions to perform the request."}}`
		notFound     = `{"errors":{"code":"not_found","message":"The requested resource doesn't exist."}}`
	)
	four := "/v1/organization_users/4"
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		status             int
		want               string
	}{
		{"NoKey", "DELETE", four, nil, 401, unauthorized},
		{"EmptyKey", "DELETE", four, map[string]string{"X-Jicoo-Api-Key": ""}, 401, unauthorized},
		{"BearerInstead", "DELETE", four, map[string]string{"Authorization": "Bearer " + b.Demo.OwnerToken}, 401, unauthorized},
		{"Garbage", "DELETE", four, map[string]string{"X-Jicoo-Api-Key": "sk_live_xxxxxx"}, 401, unauthorized},
		{"WrongSecret", "DELETE", four, map[string]string{"X-Jicoo-Api-Key": tk.Wrong}, 401, unauthorized},
		{"Expired", "DELETE", four, map[string]string{"X-Jicoo-Api-Key": tk.Expired}, 401, unauthorized},
		{"Revoked", "DELETE", four, map[string]string{"X-Jicoo-Api-Key": tk.Revoked}, 401, unauthorized},
		{"UnknownPathWithoutKey", "GET", "/v1/bookings", nil, 401, unauthorized},
		{"MissingWriteScope", "DELETE", four, map[string]string{"X-Jicoo-Api-Key": tk.ReadOnly}, 403, forbidden},
		{"MissingReadScope", "GET", four, map[string]string{"X-Jicoo-Api-Key": writeOnly}, 403, forbidden},
		{"MissingReadScopeList", "GET", "/v1/organization_users", map[string]string{"X-Jicoo-Api-Key": writeOnly}, 403, forbidden},
		{"OtherOrganization", "DELETE", four, map[string]string{"X-Jicoo-Api-Key": tk.Other}, 404, notFound},
		{"OtherOrganizationByUUID", "DELETE", "/v1/organization_users/" + b.Member(t, 4).UUID, map[string]string{"X-Jicoo-Api-Key": tk.Other}, 404, notFound},
		{"OtherOrganizationGet", "GET", four, map[string]string{"X-Jicoo-Api-Key": tk.Other}, 404, notFound},
		{"PlainMember", "DELETE", four, map[string]string{"X-Jicoo-Api-Key": b.Demo.MemberToken}, 403, forbidden},
		{"AdminRemovingOwner", "DELETE", "/v1/organization_users/1", map[string]string{"X-Jicoo-Api-Key": b.Demo.AdminToken}, 403, forbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Digest(t)
			req, err := http.NewRequest(tc.method, b.Srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header[k] = []string{v}
			}
			r := b.Send(t, req)
			if r.Status != tc.status || r.Body != tc.want {
				t.Errorf("got %d %s\nwant %d %s", r.Status, r.Body, tc.status, tc.want)
			}
			b.AssertRefused(t, before, r.RequestID, Interface)
		})
	}
}

func TestThrottle(t *testing.T) { dialecttest.EachEngine(t, testThrottle) }

func testThrottle(t *testing.T, engine string) {
	b := newBundle(t, engine, dialecttest.TightLimits)
	if r := b.Do(t, http.MethodGet, "/v1/organization_users/4", b.Demo.OwnerToken, "", ""); r.Status != http.StatusOK {
		t.Fatalf("first request: %d %s", r.Status, r.Body)
	}
	before := b.Digest(t)
	r := b.Do(t, http.MethodDelete, "/v1/organization_users/4", b.Demo.OwnerToken, "", "")
	want := `{"errors":{"code":"too_many_requests","message":"Too many requests hit the API too quickly. We recommend an exponential backoff of your requests."}}`
	if r.Status != http.StatusTooManyRequests || r.Body != want {
		t.Errorf("got %d %s, want 429 %s", r.Status, r.Body, want)
	}
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 990 || secs > 1000 {
		t.Errorf("Retry-After = %q, want about 1000", r.Header.Get("Retry-After"))
	}
	if got := b.Digest(t); got != before {
		t.Error("a throttled request changed state")
	}
	evs := b.Events(t, r.RequestID)
	if len(evs) != 1 || evs[0].Outcome != membership.OutcomeRefused || evs[0].OrgID != 1 {
		t.Errorf("events = %+v, want one refusal in organization 1", evs)
	}
}
