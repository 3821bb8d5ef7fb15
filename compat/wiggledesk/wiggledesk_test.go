package wiggledesk

import (
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// bundle is a demo organization served by a WiggleDesk handler on
// loopback, mounted as cmd/memberd mounts it.
type bundle struct{ *dialecttest.Served }

// newBundle loads the demo into a fresh database on engine ("sqlite" or
// "postgres"); the demo's ids are the same on both.
func newBundle(tb testing.TB, engine string, limits auth.Limits) *bundle {
	tb.Helper()
	return &bundle{dialecttest.LoadServed(tb, engine, Path, NewHandler, limits,
		func(req *http.Request, token string) { req.Header.Set("Authorization", "token "+token) })}
}

// golden compares got with testdata/name.golden.
func golden(tb testing.TB, name, got string) {
	tb.Helper()
	dialecttest.Golden(tb, filepath.Join("testdata", name+".golden"), []byte(got))
}

const (
	jsonType = "application/json"
	formType = "application/x-www-form-urlencoded; charset=utf-8"
	seedJSON = `{"email_invited": "EXAMPLE@EXAMPLE.COM"}`
	seedForm = `email_invited=EXAMPLE%40EXAMPLE.COM`
)

// httpie is the request `http POST http://127.0.0.1:8080/api/remove_membership/
// "Authorization: token TOKEN" email_invited=EXAMPLE@EXAMPLE.COM` puts on the
// wire (HTTPie 3.2), with --form when form is set.
func httpie(token string, form bool) string {
	accept, contentType, body := "application/json, */*;q=0.5", jsonType, seedJSON
	if form {
		accept, contentType, body = "*/*", formType, seedForm
	}
	return "POST /api/remove_membership/ HTTP/1.1\r\n" +
		"Host: 127.0.0.1:8080\r\n" +
		"User-Agent: HTTPie/3.2.4\r\n" +
		"Accept-Encoding: gzip, deflate\r\n" +
		"Accept: " + accept + "\r\n" +
		"Connection: keep-alive\r\n" +
		"Authorization: token " + token + "\r\n" +
		"Content-Type: " + contentType + "\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		"\r\n" + body
}

// TestSeed replays the seed's httpie call byte for byte.
func TestSeed(t *testing.T) { dialecttest.EachEngine(t, testSeed) }

func testSeed(t *testing.T, engine string) {
	t.Run("PlaceholderToken", func(t *testing.T) {
		t.Parallel() // each has a database of its own
		b := newBundle(t, engine, auth.Limits{})
		before := b.Digest(t)
		resp, body := dialecttest.Raw(t, b.Srv, httpie("YOUR_SECRET_TOKEN", false))
		golden(t, "seed_placeholder_token", dialecttest.Dump(resp, body))
		b.AssertRefused(t, before, resp.Header.Get("X-Request-Id"), Interface)
	})
	for _, form := range []bool{false, true} {
		name := "JSON"
		if form {
			name = "Form"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each has a database of its own
			b := newBundle(t, engine, auth.Limits{})
			resp, body := dialecttest.Raw(t, b.Srv, httpie(b.Demo.OwnerToken, form))
			// Both body forms get the same answer, byte for byte.
			golden(t, "seed_created", dialecttest.Dump(resp, body))
			if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length = %s, body has %d bytes", cl, len(body))
			}
			m := b.Member(t, 4)
			if m.Active() || m.RemovedBy != 1 {
				t.Errorf("member 4 after removal = %+v, want removed by 1", m)
			}
			evs := b.Events(t, resp.Header.Get("X-Request-Id"))
			if len(evs) != 1 || evs[0].Action != "member.removed" || evs[0].Outcome != membership.OutcomeOK || evs[0].Iface != Interface {
				t.Errorf("events = %+v, want one member.removed through %s", evs, Interface)
			}

			// The same call again: already removed, nothing changes.
			before := b.Digest(t)
			resp, body = dialecttest.Raw(t, b.Srv, httpie(b.Demo.OwnerToken, form))
			golden(t, "seed_repeated", dialecttest.Dump(resp, body))
			b.AssertRefused(t, before, resp.Header.Get("X-Request-Id"), Interface)
		})
	}
	t.Run("BehindTLSProxy", func(t *testing.T) {
		t.Parallel() // each has a database of its own
		// As served at the seed's https://wiggledesk.com behind a proxy
		// that terminates TLS and says so.
		b := newBundle(t, engine, auth.Limits{})
		req := strings.Replace(httpie(b.Demo.OwnerToken, false), "Host: 127.0.0.1:8080\r\n",
			"Host: wiggledesk.com\r\nX-Forwarded-Proto: https\r\n", 1)
		resp, body := dialecttest.Raw(t, b.Srv, req)
		golden(t, "seed_created_behind_proxy", dialecttest.Dump(resp, body))
	})
	t.Run("URLAnswersTheRemoval", func(t *testing.T) {
		t.Parallel() // each has a database of its own
		b := newBundle(t, engine, auth.Limits{})
		resp, _ := dialecttest.Raw(t, b.Srv, httpie(b.Demo.AdminToken, false))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("status %d", resp.StatusCode)
		}
		loc := resp.Header.Get("Location")
		path := strings.TrimPrefix(loc, "http://127.0.0.1:8080")
		r := b.Do(t, http.MethodGet, path, b.Demo.MemberToken, "", "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		m := b.Member(t, 4)
		want := fmt.Sprintf(`{"email_invited":"example@example.com","url":"%s%s","removed_at":"%s","removed_by":2}`,
			b.Srv.URL, path, drfTime(*m.RemovedAt))
		if r.Body != want {
			t.Errorf("GET %s = %s, want %s", path, r.Body, want)
		}
		if got := r.Header.Get("Allow"); got != allowRecord {
			t.Errorf("Allow = %q, want %q", got, allowRecord)
		}
		// HEAD is the GET without its body.
		h := b.Do(t, http.MethodHead, path, b.Demo.MemberToken, "", "")
		if h.Status != http.StatusOK || h.Body != "" || h.Header.Get("Content-Length") != strconv.Itoa(len(want)) {
			t.Errorf("HEAD %s = %d %q Content-Length %s", path, h.Status, h.Body, h.Header.Get("Content-Length"))
		}
	})
}

// TestRemovalEffects checks what the seed promises: history stays, and the
// removed user can no longer make bookings (through the native booking call).
func TestRemovalEffects(t *testing.T) { dialecttest.EachEngine(t, testRemovalEffects) }

func testRemovalEffects(t *testing.T, engine string) {
	ctx := context.Background()
	b := newBundle(t, engine, auth.Limits{})
	desk := membership.Ref{ID: b.Demo.Resources["Desk L-102"]}
	four := &membership.MemberRef{ID: 4}
	day := 24 * time.Hour
	at := b.Clock.Now().Truncate(time.Hour)
	if _, err := b.Svc.CreateBooking(ctx, b.Owner, membership.CreateBookingRequest{Resource: desk, Member: four,
		StartsAt: at.Add(5 * day), EndsAt: at.Add(5*day + time.Hour)}); err != nil {
		t.Fatalf("booking before removal: %v", err)
	}

	r := b.Do(t, http.MethodPost, Path, b.Demo.AdminToken, jsonType, `{"email_invited":"Example@Example.com"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}

	_, err := b.Svc.CreateBooking(ctx, b.Owner, membership.CreateBookingRequest{Resource: desk, Member: four,
		StartsAt: at.Add(6 * day), EndsAt: at.Add(6*day + time.Hour)})
	if membership.ErrorCode(err) != membership.CodeForbidden {
		t.Errorf("booking after removal: err %v, want forbidden", err)
	}
	acc, err := b.Svc.CheckAccess(ctx, b.Owner, *four, desk)
	if err != nil || acc.Allowed {
		t.Errorf("access after removal = %+v, %v; want none", acc, err)
	}
	h, err := b.Svc.History(ctx, b.Owner, *four)
	if err != nil {
		t.Fatal(err)
	}
	var past, cancelled int
	for _, bk := range h.Bookings {
		switch {
		case bk.EndsAt.Before(b.Clock.Now()) && bk.Status == membership.BookingActive:
			past++
		case bk.StartsAt.After(b.Clock.Now()) && bk.Status == membership.BookingCancelled:
			cancelled++
		}
	}
	if past != 1 || cancelled != 2 {
		t.Errorf("bookings after removal: %d past kept, %d future cancelled; want 1 and 2", past, cancelled)
	}
	if len(h.Periods) != 1 || h.Periods[0].EndedAt == nil {
		t.Errorf("membership periods = %+v, want one, ended", h.Periods)
	}
}

// TestBodies sends the e-mail in every body form DRF reads; each removes a
// different member.
func TestBodies(t *testing.T) { dialecttest.EachEngine(t, testBodies) }

func testBodies(t *testing.T, engine string) {
	b := newBundle(t, engine, auth.Limits{})
	multipartBody := func(email string) (string, string) {
		var sb strings.Builder
		mw := multipart.NewWriter(&sb)
		_ = mw.WriteField("other", "x")
		_ = mw.WriteField(fieldName, email)
		_ = mw.Close()
		return mw.FormDataContentType(), sb.String()
	}
	mpType, mpBody := multipartBody("USER0006@acme.test")
	for _, tc := range []struct {
		name, contentType, body string
		member                  int64
	}{
		{"JSON", jsonType, `{"email_invited":"user0005@acme.test","ignored":1}`, 5},
		{"JSONWithCharset", "application/json; charset=utf-8", `{"email_invited":"  User0007@ACME.test  "}`, 7},
		{"Form", formType, "email_invited=user0008%40acme.test", 8},
		{"FormLastValueWins", "application/x-www-form-urlencoded", "email_invited=nobody%40x.test&email_invited=user0009@acme.test", 9},
		{"FormPlusAndBrokenEscape", "application/x-www-form-urlencoded", "a=%zz&email_invited=+user0010%40acme.test+", 10},
		{"Multipart", mpType, mpBody, 6},
		{"WildcardType", "*/*", `{"email_invited":"user0011@acme.test"}`, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.Do(t, http.MethodPost, Path, b.Demo.OwnerToken, tc.contentType, tc.body)
			want := fmt.Sprintf(`{"email_invited":"user%04d@acme.test","url":"%s%s%d/"}`, tc.member, b.Srv.URL, Path, tc.member)
			if r.Status != http.StatusCreated || r.Body != want {
				t.Fatalf("got %d %s, want 201 %s", r.Status, r.Body, want)
			}
			if loc := r.Header.Get("Location"); loc != fmt.Sprintf("%s%s%d/", b.Srv.URL, Path, tc.member) {
				t.Errorf("Location = %s", loc)
			}
			if b.Member(t, tc.member).Active() {
				t.Errorf("member %d still active", tc.member)
			}
		})
	}
}

// TestErrors checks each refusal's status, DRF body and headers, and that
// it changed nothing and was audited.
func TestErrors(t *testing.T) { dialecttest.EachEngine(t, testErrors) }

func testErrors(t *testing.T, engine string) {
	b := newBundle(t, engine, auth.Limits{})
	owner := b.Demo.OwnerToken
	long := strings.Repeat("a", 250) + "@x.test"
	for _, tc := range []struct {
		name, method, path, contentType, body string
		status                                int
		want                                  string
	}{
		{"MissingField", "POST", Path, jsonType, `{}`, 400, `{"email_invited":["This field is required."]}`},
		{"EmptyBody", "POST", Path, "", ``, 400, `{"email_invited":["This field is required."]}`},
		{"EmptyForm", "POST", Path, formType, ``, 400, `{"email_invited":["This field is required."]}`},
		{"Blank", "POST", Path, jsonType, `{"email_invited":"  "}`, 400, `{"email_invited":["This field may not be blank."]}`},
		{"BlankForm", "POST", Path, formType, `email_invited=`, 400, `{"email_invited":["This field may not be blank."]}`},
		{"KeyWithoutValue", "POST", Path, formType, `email_invited`, 400, `{"email_invited":["This field may not be blank."]}`},
		{"Null", "POST", Path, jsonType, `{"email_invited":null}`, 400, `{"email_invited":["This field may not be null."]}`},
		{"Number", "POST", Path, jsonType, `{"email_invited":5}`, 400, `{"email_invited":["Enter a valid email address."]}`},
		{"Bool", "POST", Path, jsonType, `{"email_invited":true}`, 400, `{"email_invited":["Not a valid string."]}`},
		{"List", "POST", Path, jsonType, `{"email_invited":["example@example.com"]}`, 400, `{"email_invited":["Not a valid string."]}`},
		{"InvalidAddress", "POST", Path, jsonType, `{"email_invited":"not-an-email"}`, 400, `{"email_invited":["Enter a valid email address."]}`},
		{"DisplayName", "POST", Path, jsonType, `{"email_invited":"Ex <example@example.com>"}`, 400, `{"email_invited":["Enter a valid email address."]}`},
		{"TooLong", "POST", Path, jsonType, `{"email_invited":"` + long + `"}`, 400,
			`{"email_invited":["Ensure this field has no more than 254 characters.","Enter a valid email address."]}`},
		{"NullCharacter", "POST", Path, jsonType, `{"email_invited":"a\u0000@x.test"}`, 400,
			`{"email_invited":["Null characters are not allowed.","Enter a valid email address."]}`},
		{"NotAnObject", "POST", Path, jsonType, `["example@example.com"]`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{"NumberBody", "POST", Path, jsonType, `1.5`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got float."]}`},
		{"NullBody", "POST", Path, jsonType, `null`, 400, `{"non_field_errors":["No data provided"]}`},
		{"MalformedJSON", "POST", Path, jsonType, `{"email_invited":`, 400, `{"detail":"JSON parse error - unexpected EOF"}`},
		{"TrailingData", "POST", Path, jsonType, `{} {}`, 400, `{"detail":"JSON parse error - Extra data"}`},
		{"MultipartWithoutBoundary", "POST", Path, "multipart/form-data", `x`, 400, `{"detail":"Multipart form parse error - Invalid boundary in multipart: None"}`},
		{"UnsupportedType", "POST", Path, "text/plain", `example@example.com`, 415, `{"detail":"Unsupported media type \"text/plain\" in request."}`},
		{"NoContentType", "POST", Path, "", `{"email_invited":"example@example.com"}`, 415, `{"detail":"Unsupported media type \"\" in request."}`},
		{"TooLarge", "POST", Path, jsonType, `{"email_invited":"` + strings.Repeat("a", MaxBody) + `"}`, 413,
			`{"detail":"Request body is larger than the limit of 65536 bytes."}`},
		{"UnknownEmail", "POST", Path, jsonType, `{"email_invited":"nobody@example.com"}`, 404, `{"detail":"Not found."}`},
		{"LastOwner", "POST", Path, jsonType, `{"email_invited":"OWNER@acme.test"}`, 400, `{"email_invited":["Cannot remove the last owner of the organization."]}`},
		{"GET", "GET", Path, "", ``, 405, `{"detail":"Method \"GET\" not allowed."}`},
		{"PUT", "PUT", Path, jsonType, `{"email_invited":"example@example.com"}`, 405, `{"detail":"Method \"PUT\" not allowed."}`},
		{"DELETE", "DELETE", Path, "", ``, 405, `{"detail":"Method \"DELETE\" not allowed."}`},
		{"PostToRecord", "POST", Path + "4/", jsonType, `{}`, 405, `{"detail":"Method \"POST\" not allowed."}`},
		{"RecordOfActiveMember", "GET", Path + "4/", "", ``, 404, `{"detail":"Not found."}`},
		{"RecordNotANumber", "GET", Path + "abc/", "", ``, 404, `{"detail":"Not found."}`},
		{"RecordUnknown", "GET", Path + "99999/", "", ``, 404, `{"detail":"Not found."}`},
		{"UnknownPath", "GET", Path + "4/extra/", "", ``, 404, `{"detail":"Not found."}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Digest(t)
			r := b.Do(t, tc.method, tc.path, owner, tc.contentType, tc.body)
			if r.Status != tc.status || r.Body != tc.want {
				t.Errorf("got %d %s\nwant %d %s", r.Status, r.Body, tc.status, tc.want)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			for k, v := range map[string]string{"Vary": "Accept", "X-Content-Type-Options": "nosniff",
				"X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": "same-origin"} {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.status == 405 && r.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			b.AssertRefused(t, before, r.RequestID, Interface)
		})
	}
}

// TestAuthorization is the authorization matrix in DRF's words.
func TestAuthorization(t *testing.T) { dialecttest.EachEngine(t, testAuthorization) }

func testAuthorization(t *testing.T, engine string) {
	b := newBundle(t, engine, auth.Limits{})
	tk := b.Tokens(t)
	const (
		notProvided = `{"detail":"Authentication credentials were not provided."}`
		invalid     = `{"detail":"Invalid token."}`
		forbidden   = `{"detail":"You do not have permission to perform this action."}`
	)
	for _, tc := range []struct {
		name, authorization, email string
		status                     int
		want                       string
	}{
		{"NoCredential", "", demo.WiggleEmail, 401, notProvided},
		{"BearerScheme", "Bearer " + b.Demo.OwnerToken, demo.WiggleEmail, 401, notProvided},
		{"KeywordOnly", "token", demo.WiggleEmail, 401, `{"detail":"Invalid token header. No credentials provided."}`},
		{"KeyWithSpaces", "token a b", demo.WiggleEmail, 401, `{"detail":"Invalid token header. Token string should not contain spaces."}`},
		{"Garbage", "token garbage", demo.WiggleEmail, 401, invalid},
		{"WrongSecret", "token " + tk.Wrong, demo.WiggleEmail, 401, invalid},
		{"Expired", "token " + tk.Expired, demo.WiggleEmail, 401, invalid},
		{"Revoked", "token " + tk.Revoked, demo.WiggleEmail, 401, invalid},
		{"MissingScope", "token " + tk.ReadOnly, demo.WiggleEmail, 403, forbidden},
		{"OtherOrganization", "token " + tk.Other, demo.WiggleEmail, 404, `{"detail":"Not found."}`},
		{"PlainMember", "token " + b.Demo.MemberToken, demo.WiggleEmail, 403, forbidden},
		{"AdminRemovingOwner", "token " + b.Demo.AdminToken, demo.OwnerEmail, 403, forbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Digest(t)
			req, err := http.NewRequest(http.MethodPost, b.Srv.URL+Path, strings.NewReader(`{"email_invited": "`+tc.email+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", jsonType)
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			r := b.Send(t, req)
			if r.Status != tc.status || r.Body != tc.want {
				t.Errorf("got %d %s\nwant %d %s", r.Status, r.Body, tc.status, tc.want)
			}
			if wa := r.Header.Get("WWW-Authenticate"); (tc.status == 401) != (wa == "Token") {
				t.Errorf("WWW-Authenticate = %q with status %d", wa, r.Status)
			}
			b.AssertRefused(t, before, r.RequestID, Interface)
		})
	}
}

func TestThrottle(t *testing.T) { dialecttest.EachEngine(t, testThrottle) }

func testThrottle(t *testing.T, engine string) {
	b := newBundle(t, engine, dialecttest.TightLimits)
	if r := b.Do(t, http.MethodPost, Path, b.Demo.OwnerToken, jsonType, `{}`); r.Status != http.StatusBadRequest {
		t.Fatalf("first request: %d %s", r.Status, r.Body)
	}
	before := b.Digest(t)
	r := b.Do(t, http.MethodPost, Path, b.Demo.OwnerToken, jsonType, seedJSON)
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 990 || secs > 1000 {
		t.Fatalf("Retry-After = %q, want about 1000", r.Header.Get("Retry-After"))
	}
	want := fmt.Sprintf(`{"detail":"Request was throttled. Expected available in %d seconds."}`, secs)
	if r.Status != http.StatusTooManyRequests || r.Body != want {
		t.Errorf("got %d %s, want 429 %s", r.Status, r.Body, want)
	}
	if got := b.Digest(t); got != before {
		t.Error("a throttled request changed state")
	}
	evs := b.Events(t, r.RequestID)
	if len(evs) != 1 || evs[0].Outcome != membership.OutcomeRefused || evs[0].OrgID != 1 {
		t.Errorf("events = %+v, want one refusal in organization 1", evs)
	}
}

func TestOptionsAndHead(t *testing.T) { dialecttest.EachEngine(t, testOptionsAndHead) }

func testOptionsAndHead(t *testing.T, engine string) {
	b := newBundle(t, engine, auth.Limits{})
	const parses = `"parses":["application/json","application/x-www-form-urlencoded","multipart/form-data"]`
	const head = `{"name":"Remove Membership List","description":"` + description + `","renders":["application/json"],` + parses
	for _, tc := range []struct {
		name, method, path, token string
		status                    int
		want                      string
	}{
		{"Options", "OPTIONS", Path, b.Demo.OwnerToken, 200, head + `,"actions":{"POST":{` +
			`"email_invited":{"type":"email","required":true,"read_only":false,"label":"Email invited","max_length":254},` +
			`"url":{"type":"field","required":false,"read_only":true,"label":"Url"}}}}`},
		{"OptionsWithoutWriteScope", "OPTIONS", Path, b.Credential(t, 1, []string{membership.ScopeMembersRead}, nil), 200, head + `}`},
		{"OptionsRecord", "OPTIONS", Path + "4/", b.Demo.OwnerToken, 200,
			`{"name":"Remove Membership Instance","description":"` + description + `","renders":["application/json"],` + parses + `}`},
		{"OptionsUnauthenticated", "OPTIONS", Path, "", 401, `{"detail":"Authentication credentials were not provided."}`},
		{"Head", "HEAD", Path, b.Demo.OwnerToken, 200, ``},
		{"HeadUnauthenticated", "HEAD", Path, "", 401, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Digest(t)
			r := b.Do(t, tc.method, tc.path, tc.token, "", "")
			if r.Status != tc.status || r.Body != tc.want {
				t.Errorf("got %d %s\nwant %d %s", r.Status, r.Body, tc.status, tc.want)
			}
			if tc.want != "" && !json.Valid([]byte(r.Body)) {
				t.Errorf("body is not JSON: %s", r.Body)
			}
			wantAllow := allowCollection
			if tc.path != Path {
				wantAllow = allowRecord
			}
			if got := r.Header.Get("Allow"); got != wantAllow {
				t.Errorf("Allow = %q, want %q", got, wantAllow)
			}
			if got := b.Digest(t); got != before {
				t.Error("state changed")
			}
		})
	}
}
