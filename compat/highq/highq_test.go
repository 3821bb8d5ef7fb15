package highq

import (
	"context"
	"encoding/json"
	"encoding/xml"
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

// env is the demo organization behind a loopback server speaking HighQ.
type env struct {
	*dialecttest.Env
	url   string // the server with generous rate limits
	tight string // the same service behind dialecttest.TightLimits
}

func newEnv(tb testing.TB, engine string) *env {
	tb.Helper()
	e := &env{Env: dialecttest.Load(tb, engine, dialecttest.LoadTime)}
	e.url, e.tight = e.ServeLimited(tb, "/api/3/", NewHandler)
	return e
}

// remove sends a removal of site siteID's users.
func (e *env) remove(tb testing.TB, siteID int64, token, body string, headers ...string) (*http.Response, []byte) {
	tb.Helper()
	return dialecttest.Call(tb, http.MethodDelete, fmt.Sprintf("%s/api/3/sites/%d/users", e.url, siteID), token, body, headers...)
}

func (e *env) deal() int64 { return e.Demo.Spaces[demo.SpaceDeal] }

// readd puts removed deal-room participants back as alice, who added
// them in the demo, so that the next example starts from the demo's state.
func (e *env) readd(tb testing.TB, ids []int64) {
	tb.Helper()
	alice := membership.Actor{OrgID: 1, MemberID: 2, Interface: "test"}
	for _, id := range ids {
		_, err := e.Svc.AddSpaceMember(context.Background(), alice, membership.AddSpaceMemberRequest{
			Space: membership.Ref{ID: e.deal()}, Member: membership.MemberRef{ID: id}, Roles: []string{"participant"},
		})
		if err != nil {
			tb.Fatalf("put %d back: %v", id, err)
		}
	}
}

// golden compares got with testdata/golden/name byte for byte.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	dialecttest.Golden(tb, filepath.Join("testdata", "golden", name), got)
}

// txJSON renders the expected transaction envelope for statuses of ids.
func txJSON(tb testing.TB, rows ...transaction) string {
	tb.Helper()
	data, err := json.Marshal(transactions{Transaction: rows})
	if err != nil {
		tb.Fatal(err)
	}
	return string(data) + "\n"
}

func tx(id, status, reason string) transaction {
	return transaction{TransactionID: id, StatusCode: status, Reason: reason}
}

// parseTransactions reads a JSON or XML transaction envelope.
func parseTransactions(tb testing.TB, resp *http.Response, body []byte) []transaction {
	tb.Helper()
	var out transactions
	var err error
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") {
		err = xml.Unmarshal(body, &out)
	} else {
		err = json.Unmarshal(body, &out)
	}
	if err != nil {
		tb.Fatalf("parse %s: %v", body, err)
	}
	return out.Transaction
}

func jsonEqual(tb testing.TB, got []byte, want string) {
	tb.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		tb.Fatalf("got is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatalf("want is not JSON: %v: %s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		tb.Errorf("got %s, want the JSON of %s", got, want)
	}
}

func without(ids []int64, gone ...int64) []int64 {
	return slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return slices.Contains(gone, id) })
}

// TestRemoveSiteUsersSeed replays every body form of the seed and its
// comments, verbatim, against a fresh demo on each engine.
func TestRemoveSiteUsersSeed(t *testing.T) {
	examples := []struct {
		name    string
		body    string
		headers []string
		removed []int64
		golden  string
		xml     bool
	}{
		{name: "TransactionIDStrings", body: dialecttest.Seed(t, "transactionid_strings.json"),
			headers: []string{"Content-Type", "application/json"}, removed: []int64{990, 991, 992}, golden: "transactionid_strings.json"},
		{name: "TransactionIDsIntegers", body: dialecttest.Seed(t, "transactionids_integers.json"),
			headers: []string{"Content-Type", "application/json"}, removed: []int64{900, 901, 902, 903}, golden: "transactionids_integers.json"},
		{name: "TransactionIDsStrings", body: `{"transactionids":{"transactionid":["900","901","902","903"]}}`,
			headers: []string{"Content-Type", "application/json"}, removed: []int64{900, 901, 902, 903}, golden: "transactionids_integers.json"},
		{name: "XML", body: dialecttest.Seed(t, "transactionids.xml"),
			headers: []string{"Content-Type", "application/xml"}, removed: []int64{900, 901, 902, 903}, golden: "transactionids.xml", xml: true},
		{name: "XMLSniffed", body: dialecttest.Seed(t, "transactionids.xml"),
			removed: []int64{900, 901, 902, 903}, golden: "transactionids.xml", xml: true},
		{name: "XMLTextXML", body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<transactionids>\n  <transactionid> 900 </transactionid>\n  <transactionid>901</transactionid>\n  <transactionid>902</transactionid>\n  <transactionid>903</transactionid>\n</transactionids>\n",
			headers: []string{"Content-Type", "text/xml; charset=UTF-8"}, removed: []int64{900, 901, 902, 903}, golden: "transactionids.xml", xml: true},
		{name: "JSONAcceptXML", body: dialecttest.Seed(t, "transactionid_strings.json"),
			headers: []string{"Content-Type", "application/json", "Accept", "application/xml"}, removed: []int64{990, 991, 992}, golden: "transactionid_strings_accept.xml", xml: true},
		{name: "XMLAcceptJSON", body: dialecttest.Seed(t, "transactionids.xml"),
			headers: []string{"Content-Type", "application/xml", "Accept", "application/json"}, removed: []int64{900, 901, 902, 903}, golden: "transactionids_integers.json"},
	}
	for _, engine := range dialecttest.Engines {
		t.Run(engine, func(t *testing.T) {
			// One demo per engine: each example puts back what it removed.
			e := newEnv(t, engine)
			original := e.ActiveSpaceMembers(t, e.deal())
			for _, ex := range examples {
				t.Run(ex.name, func(t *testing.T) {
					before := e.ActiveSpaceMembers(t, e.deal())
					if !slices.Equal(before, original) {
						t.Fatalf("site members %v, want the demo's %v", before, original)
					}
					defer e.readd(t, ex.removed)
					mark := e.LastEventID(t, 1)
					resp, body := e.remove(t, e.deal(), e.Demo.AdminToken, ex.body, ex.headers...)
					dialecttest.WantStatus(t, resp, body, http.StatusOK)
					if ex.xml {
						dialecttest.WantHeader(t, resp, "Content-Type", "application/xml")
					} else {
						dialecttest.WantHeader(t, resp, "Content-Type", "application/json")
					}
					golden(t, ex.golden, body)
					if got, want := e.ActiveSpaceMembers(t, e.deal()), without(before, ex.removed...); !slices.Equal(got, want) {
						t.Errorf("site members %v, want %v", got, want)
					}
					// Leaving a site is not leaving the organization.
					for _, id := range ex.removed {
						m, err := e.Svc.Member(context.Background(), e.Owner, membership.MemberRef{ID: id})
						if err != nil || !m.Active() {
							t.Errorf("member %d after site removal: %+v, %v", id, m, err)
						}
					}
					evs, err := e.Svc.Events(context.Background(), e.Owner, membership.EventListParams{Action: "space_member.removed", Limit: 100})
					if err != nil {
						t.Fatal(err)
					}
					n := 0
					for _, ev := range evs {
						if ev.ID > mark && ev.Interface == Interface && ev.ActorMemberID == 2 {
							n++
						}
					}
					if n != len(ex.removed) {
						t.Errorf("%d space_member.removed events by alice through highq, want %d", n, len(ex.removed))
					}
				})
			}
			t.Run("SeedLiteralWithEtc", func(t *testing.T) {
				// The comment's second form, copied with its "...etc", is not
				// JSON: it gets the comment's own error answer.
				before := e.Snapshot(t)
				mark := e.LastEventID(t, 1)
				resp, body := e.remove(t, e.deal(), e.Demo.AdminToken, dialecttest.Seed(t, "transactionids_literal.json"), "Content-Type", "application/json")
				dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
				dialecttest.WantHeader(t, resp, "Content-Type", "application/json")
				golden(t, "invalid_body.json", body)
				jsonEqual(t, body, dialecttest.Seed(t, "invalid_body_response.json"))
				e.AssertSnapshot(t, before)
				e.AssertRefusedSince(t, Interface, 1, mark, actionRemoveSiteUsers)
			})
		})
	}
}

// TestRemoveSiteUsersNotes covers each numbered note of the seed.
func TestRemoveSiteUsersNotes(t *testing.T) {
	t.Parallel()
	t.Run("Note1InvalidID", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		resp, body := e.remove(t, e.deal(), e.Demo.AdminToken, `{"transactionid":["990","abc","9.5","0","-3",""," 991 ",true,null]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
		want := txJSON(t,
			tx("990", "200", msgRemoved), tx("abc", "400", msgInvalid), tx("9.5", "400", msgInvalid),
			tx("0", "400", msgInvalid), tx("-3", "400", msgInvalid), tx("", "400", msgInvalid),
			tx("991", "200", msgRemoved), tx("true", "400", msgInvalid), tx("null", "400", msgInvalid))
		if string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
		if got := e.ActiveSpaceMembers(t, e.deal()); slices.Contains(got, 990) || slices.Contains(got, 991) {
			t.Errorf("990 and 991 still in the site: %v", got)
		}
	})
	t.Run("Note2Duplicates", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		resp, body := e.remove(t, e.deal(), e.Demo.AdminToken, `{"transactionids":{"transactionid":["990",990,"0990"]}}`)
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
		// "0990" is not the canonical spelling of 990 (internal/ids), so it
		// names nobody rather than being a third try at 990.
		want := txJSON(t, tx("990", "200", msgRemoved), tx("990", "409", msgAlreadyRemoved), tx("0990", "400", msgInvalid))
		if string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
	})
	t.Run("Note2AlreadyRemovedEarlier", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		resp, body := e.remove(t, e.deal(), e.Demo.AdminToken, `{"transactionid":["991"]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusOK)
		resp, body = e.remove(t, e.deal(), e.Demo.AdminToken, `{"transactionid":["991"]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusConflict)
		if want := txJSON(t, tx("991", "409", msgAlreadyRemoved)); string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
	})
	t.Run("Note3NotInSite", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		before := e.Snapshot(t)
		// 12 is in the organization but not the site; 5000 is in neither.
		resp, body := e.remove(t, e.deal(), e.Demo.OwnerToken, `{"transactionid":["12","5000"]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusNotFound)
		if want := txJSON(t, tx("12", "404", msgNotInSite), tx("5000", "404", msgNotInSite)); string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
		e.AssertSnapshot(t, before)
	})
	t.Run("Note4AdminRemovesOnlyWhomTheyAdded", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		before := e.Snapshot(t)
		mark := e.LastEventID(t, 1)
		resp, body := e.remove(t, e.deal(), e.Demo.AdminToken, `{"transactionid":["950","951"]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusForbidden)
		if want := txJSON(t, tx("950", "403", msgNoRights), tx("951", "403", msgNoRights)); string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
		e.AssertSnapshot(t, before)
		e.AssertRefusedSince(t, Interface, 1, mark, "space_member.removed", "space_member.removed")
	})
	t.Run("Note4OwnerRemovesAnyone", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		resp, body := e.remove(t, e.deal(), e.Demo.OwnerToken, `{"transactionid":["950","990","2"]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusOK)
		if got, want := e.ActiveSpaceMembers(t, e.deal()), []int64{900, 901, 902, 903, 951, 952, 991, 992}; !slices.Equal(got, want) {
			t.Errorf("site members %v, want %v", got, want)
		}
	})
	t.Run("Note5AtMost100", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		before := e.Snapshot(t)
		ids := make([]string, 101)
		for i := range ids {
			ids[i] = fmt.Sprintf("%q", fmt.Sprint(900+i))
		}
		mark := e.LastEventID(t, 1)
		resp, body := e.remove(t, e.deal(), e.Demo.OwnerToken, `{"transactionid":[`+strings.Join(ids, ",")+`]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
		if want := txJSON(t, tx("", "400", "You can remove a maximum of 100 users at a time.")); string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
		var x strings.Builder
		x.WriteString("<transactionids>")
		for i := range 101 {
			fmt.Fprintf(&x, "<transactionid>%d</transactionid>", 900+i)
		}
		x.WriteString("</transactionids>")
		resp, body = e.remove(t, e.deal(), e.Demo.OwnerToken, x.String(), "Content-Type", "application/xml")
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
		golden(t, "too_many.xml", body)
		e.AssertSnapshot(t, before)
		e.AssertRefusedSince(t, Interface, 1, mark, actionRemoveSiteUsers, actionRemoveSiteUsers)
		// Exactly 100 is allowed: every id gets its own status.
		resp, body = e.remove(t, e.deal(), e.Demo.OwnerToken, `{"transactionid":[`+strings.Join(ids[:100], ",")+`]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest) // partial: most ids are not in the site
		rows := parseTransactions(t, resp, body)
		if len(rows) != 100 {
			t.Fatalf("%d transactions, want 100", len(rows))
		}
		removed := 0
		for i, row := range rows {
			if row.TransactionID != fmt.Sprint(900+i) {
				t.Errorf("transaction %d is %q, want %d", i, row.TransactionID, 900+i)
			}
			if row.StatusCode == "200" {
				removed++
			}
		}
		if removed != 10 {
			t.Errorf("%d removed, want the 10 site users among 900-999", removed)
		}
	})
}

// TestRemoveSiteUsers covers the rest of the removal call: the status
// rule on a mix, whole-request errors and the XML decoder's refusals.
func TestRemoveSiteUsers(t *testing.T) {
	t.Parallel()
	t.Run("Mixed", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		resp, body := e.remove(t, e.deal(), e.Demo.AdminToken,
			`{"transactionid":["990","abc","990","950","5000","12","991"]}`, "Content-Type", "application/json")
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
		golden(t, "mixed.json", body)
		resp, body = e.remove(t, e.deal(), e.Demo.AdminToken,
			"<transactionids><transactionid>992</transactionid><transactionid>x</transactionid><transactionid>950</transactionid></transactionids>",
			"Content-Type", "application/xml")
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
		golden(t, "mixed.xml", body)
	})
	t.Run("MixedFailuresNoneRemoved", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		resp, body := e.remove(t, e.deal(), e.Demo.AdminToken, `{"transactionid":["950","5000"]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
		if want := txJSON(t, tx("950", "403", msgNoRights), tx("5000", "404", msgNotInSite)); string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
	})
	bad := []struct {
		name, body, ctype string
		status            int
		reason            string
	}{
		{"EmptyBody", "", "application/json", 400, msgMissing},
		{"EmptyList", `{"transactionid":[]}`, "application/json", 400, msgMissing},
		{"NullList", `{"transactionids":{"transactionid":null}}`, "application/json", 400, msgMissing},
		{"EmptyXML", `<transactionids></transactionids>`, "application/xml", 400, msgMissing},
		{"NotJSON", `transactionid=990`, "application/json", 400, msgBadBody},
		{"NoIDList", `{"userids":[990]}`, "application/json", 400, msgBadBody},
		{"TwoLists", `{"transactionid":["990"],"transactionids":{"transactionid":[991]}}`, "application/json", 400, msgBadBody},
		{"NestedID", `{"transactionid":[["990"]]}`, "application/json", 400, msgBadBody},
		{"TrailingData", `{"transactionid":["990"]} {}`, "application/json", 400, msgBadBody},
		{"ArrayRoot", `["990"]`, "application/json", 400, msgBadBody},
		{"WrongXMLRoot", `<users><transactionid>990</transactionid></users>`, "application/xml", 400, msgBadBody},
		{"XMLDoctype", `<!DOCTYPE transactionids [<!ENTITY a "990">]><transactionids><transactionid>&a;</transactionid></transactionids>`, "application/xml", 400, msgBadBody},
		{"XMLUnknownEntity", `<transactionids><transactionid>&a;</transactionid></transactionids>`, "application/xml", 400, msgBadBody},
		{"XMLLatin1", `<?xml version="1.0" encoding="ISO-8859-1"?><transactionids><transactionid>990</transactionid></transactionids>`, "application/xml", 400, msgBadBody},
		{"XMLTwoRoots", `<transactionids><transactionid>990</transactionid></transactionids><transactionids/>`, "application/xml", 400, msgBadBody},
		{"XMLUnclosed", `<transactionids><transactionid>990</transactionid>`, "application/xml", 400, msgBadBody},
		{"XMLElementInID", `<transactionids><transactionid><b>990</b></transactionid></transactionids>`, "application/xml", 400, msgBadBody},
		{"XMLDeep", `<transactionids>` + strings.Repeat("<a>", 20) + strings.Repeat("</a>", 20) + `<transactionid>990</transactionid></transactionids>`, "application/xml", 400, msgBadBody},
		{"TooLarge", `{"transactionid":["` + strings.Repeat("9", MaxBody) + `"]}`, "application/json", 413, fmt.Sprintf("request body is larger than the limit of %d bytes", MaxBody)},
	}
	t.Run("BadBodies", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		before := e.Snapshot(t)
		for _, c := range bad {
			t.Run(c.name, func(t *testing.T) {
				mark := e.LastEventID(t, 1)
				resp, body := e.remove(t, e.deal(), e.Demo.OwnerToken, c.body, "Content-Type", c.ctype)
				dialecttest.WantStatus(t, resp, body, c.status)
				rows := parseTransactions(t, resp, body)
				if want := []transaction{tx("", fmt.Sprint(c.status), c.reason)}; !reflect.DeepEqual(rows, want) {
					t.Errorf("got %+v, want %+v", rows, want)
				}
				e.AssertRefusedSince(t, Interface, 1, mark, actionRemoveSiteUsers)
			})
		}
		e.AssertSnapshot(t, before)
	})
	t.Run("XMLUnknownElementsIgnored", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		resp, body := e.remove(t, e.deal(), e.Demo.AdminToken,
			`<!-- ids --><hq:transactionids xmlns:hq="urn:highq" note="x"><comment><p>hi</p></comment><hq:transactionid>990</hq:transactionid><?pi x?></hq:transactionids>`,
			"Content-Type", "application/xml")
		dialecttest.WantStatus(t, resp, body, http.StatusOK)
		if rows := parseTransactions(t, resp, body); !reflect.DeepEqual(rows, []transaction{tx("990", "200", msgRemoved)}) {
			t.Errorf("got %+v", rows)
		}
	})
	t.Run("UnknownKeysIgnoredAndScalarID", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		resp, body := e.remove(t, e.deal(), e.Demo.AdminToken, `{"note":{"a":[1,2]},"transactionids":{"x":1,"transactionid":"990"}}`)
		dialecttest.WantStatus(t, resp, body, http.StatusOK)
		if want := txJSON(t, tx("990", "200", msgRemoved)); string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
	})
	t.Run("UnknownSite", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "sqlite")
		mark := e.LastEventID(t, 1)
		resp, body := e.remove(t, 999, e.Demo.OwnerToken, `{"transactionid":["990"]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusNotFound)
		if want := txJSON(t, tx("", "404", "space not found")); string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
		e.AssertRefusedSince(t, Interface, 1, mark, "batch.removed")
		resp, body = dialecttest.Call(t, http.MethodDelete, e.url+"/api/3/sites/deal/users", e.Demo.OwnerToken, `{"transactionid":["990"]}`, "Accept", "application/xml")
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
		golden(t, "bad_siteid.xml", body)
	})
}

// TestReads covers the calls the seed points to for finding site and user ids.
func TestReads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	for _, c := range []struct {
		name, path, accept, golden, ctype string
	}{
		{"SitesJSON", "/api/3/sites", "", "sites.json", "application/json"},
		{"SitesXML", "/api/3/sites", "application/xml", "sites.xml", "application/xml"},
		{"SiteUsersJSON", fmt.Sprintf("/api/3/sites/%d/users", e.deal()), "application/json", "site_users.json", "application/json"},
		{"SiteUsersXML", fmt.Sprintf("/api/3/sites/%d/users", e.deal()), "text/xml", "site_users.xml", "application/xml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := dialecttest.Call(t, http.MethodGet, e.url+c.path, e.Demo.MemberToken, "", "Accept", c.accept)
			dialecttest.WantStatus(t, resp, body, http.StatusOK)
			dialecttest.WantHeader(t, resp, "Content-Type", c.ctype)
			golden(t, c.golden, body)
		})
	}
	t.Run("RemovedUserLeavesTheList", func(t *testing.T) {
		resp, body := e.remove(t, e.deal(), e.Demo.AdminToken, `{"transactionid":["992"]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusOK)
		resp, body = dialecttest.Call(t, http.MethodGet, fmt.Sprintf("%s/api/3/sites/%d/users", e.url, e.deal()), e.Demo.OwnerToken, "")
		dialecttest.WantStatus(t, resp, body, http.StatusOK)
		var list userList
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.User) != 10 || slices.ContainsFunc(list.User, func(u siteUser) bool { return u.UserID == 992 }) {
			t.Errorf("site users after removing 992: %s", body)
		}
	})
	t.Run("UnknownSite", func(t *testing.T) {
		mark := e.LastEventID(t, 1)
		resp, body := dialecttest.Call(t, http.MethodGet, e.url+"/api/3/sites/999/users", e.Demo.OwnerToken, "")
		dialecttest.WantStatus(t, resp, body, http.StatusNotFound)
		if want := `{"error":{"summary":"space not found","ref":404}}` + "\n"; string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
		e.AssertRefusedSince(t, Interface, 1, mark, actionListSiteUsers)
	})
	t.Run("BadSiteID", func(t *testing.T) {
		resp, body := dialecttest.Call(t, http.MethodGet, e.url+"/api/3/sites/x/users", e.Demo.OwnerToken, "")
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
		if want := `{"error":{"summary":"Invalid parameter: siteid","ref":400}}` + "\n"; string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
	})
	t.Run("UnknownPathAndMethod", func(t *testing.T) {
		resp, body := dialecttest.Call(t, http.MethodGet, e.url+"/api/3/nothing", e.Demo.OwnerToken, "")
		dialecttest.WantStatus(t, resp, body, http.StatusNotFound)
		if want := `{"error":{"summary":"The requested resource does not exist","ref":404}}` + "\n"; string(body) != want {
			t.Errorf("got  %s\nwant %s", body, want)
		}
		resp, body = dialecttest.Call(t, http.MethodPost, e.url+"/api/3/sites/2/users", e.Demo.OwnerToken, "", "Accept", "application/xml")
		dialecttest.WantStatus(t, resp, body, http.StatusMethodNotAllowed)
		dialecttest.WantHeader(t, resp, "Allow", "DELETE, GET, HEAD")
		golden(t, "method_not_allowed.xml", body)
	})
}

// TestRemoveGroupUser covers DELETE /api/3/sites/{siteid}/groups/{groupid}/users.
func TestRemoveGroupUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	eng, doors := e.Demo.Groups[demo.GroupEng], e.Demo.Groups[demo.GroupDoors]
	url := func(site, group int64, userid string) string {
		return fmt.Sprintf("%s/api/3/sites/%d/groups/%d/users?userid=%s", e.url, site, group, userid)
	}
	serverRoom := membership.Ref{ID: e.Demo.Resources["Server room lock"]}
	t.Run("OK", func(t *testing.T) {
		// alice added 12-40 to Engineering, so she may take 20 out.
		resp, body := dialecttest.Call(t, http.MethodDelete, url(e.deal(), eng, "20"), e.Demo.AdminToken, "")
		dialecttest.WantStatus(t, resp, body, http.StatusOK)
		if len(body) != 0 {
			t.Errorf("body %q, want none", body)
		}
		acc, err := e.Svc.CheckAccess(context.Background(), e.Owner, membership.MemberRef{ID: 20}, serverRoom)
		if err != nil || acc.Allowed {
			t.Errorf("member 20's server room access after leaving Engineering: %+v, %v", acc, err)
		}
	})
	errorCases := []struct {
		name, url, token string
		status           int
		summary          string
		action           string
	}{
		{"AlreadyRemoved", url(e.deal(), eng, "20"), e.Demo.AdminToken, 409, msgGroupAlreadyRemoved, "group_member.removed"},
		{"NotInGroup", url(e.deal(), eng, "5"), e.Demo.AdminToken, 404, msgNotInGroup, "group_member.removed"},
		{"NotInOrganization", url(e.deal(), eng, "5000"), e.Demo.AdminToken, 404, msgNotInGroup, "group_member.removed"},
		{"AdminDidNotAdd", url(e.deal(), doors, "10"), e.Demo.AdminToken, 403, msgNoRights, "group_member.removed"},
		{"PlainMember", url(e.deal(), eng, "21"), e.Demo.MemberToken, 403, msgNoRights, "group_member.removed"},
		{"UnknownGroup", url(e.deal(), 77, "21"), e.Demo.OwnerToken, 404, "group not found", "group_member.removed"},
		{"AdminGroupID", url(e.deal(), -2, "21"), e.Demo.OwnerToken, 404, "group not found", "group_member.removed"},
		{"UnknownSite", url(999, eng, "21"), e.Demo.OwnerToken, 404, "space not found", actionRemoveGroupUser},
		{"MissingUserID", fmt.Sprintf("%s/api/3/sites/%d/groups/%d/users", e.url, e.deal(), eng), e.Demo.OwnerToken, 400, msgInvalid, actionRemoveGroupUser},
		{"BadUserID", url(e.deal(), eng, "abc"), e.Demo.OwnerToken, 400, msgInvalid, actionRemoveGroupUser},
		{"BadGroupID", fmt.Sprintf("%s/api/3/sites/%d/groups/x/users?userid=21", e.url, e.deal()), e.Demo.OwnerToken, 400, "Invalid parameter: groupid", actionRemoveGroupUser},
	}
	for _, c := range errorCases {
		t.Run(c.name, func(t *testing.T) {
			before := e.Snapshot(t)
			mark := e.LastEventID(t, 1)
			resp, body := dialecttest.Call(t, http.MethodDelete, c.url, c.token, "")
			dialecttest.WantStatus(t, resp, body, c.status)
			want, _ := json.Marshal(errorObject{Summary: c.summary, Ref: c.status})
			if string(body) != string(want)+"\n" {
				t.Errorf("got  %s\nwant %s", body, want)
			}
			e.AssertSnapshot(t, before)
			e.AssertRefusedSince(t, Interface, 1, mark, c.action)
		})
	}
	t.Run("XMLError", func(t *testing.T) {
		resp, body := dialecttest.Call(t, http.MethodDelete, url(e.deal(), doors, "10"), e.Demo.AdminToken, "", "Accept", "application/xml")
		dialecttest.WantStatus(t, resp, body, http.StatusForbidden)
		golden(t, "group_no_rights.xml", body)
	})
}

// TestAuthorization is the foundation's authorization matrix in HighQ's
// formats: each refused request changes nothing and is audited.
func TestAuthorization(t *testing.T) {
	for _, engine := range dialecttest.Engines {
		t.Run(engine, func(t *testing.T) {
			testAuthorization(t, engine)
		})
	}
}

func testAuthorization(t *testing.T, engine string) {
	e := newEnv(t, engine)
	tk := e.Tokens(t)
	writeOnly := e.Credential(t, 1, []string{membership.ScopeMembersWrite}, nil)
	scopeMsg := func(s string) string { return fmt.Sprintf("the credential lacks the %q scope", s) }

	removeURL := fmt.Sprintf("%s/api/3/sites/%d/users", e.url, e.deal())
	usersURL := fmt.Sprintf("%s/api/3/sites/%d/users", e.url, e.deal())
	groupURL := fmt.Sprintf("%s/api/3/sites/%d/groups/%d/users?userid=20", e.url, e.deal(), e.Demo.Groups[demo.GroupEng])
	const body = `{"transactionid":["990","991"]}`
	cases := []struct {
		name    string
		method  string
		url     string
		token   string
		body    string
		status  int
		want    string // the exact response body
		org     int64  // whose audit trail records the refusal; 0: none
		actions []string
	}{
		{"Remove/NoCredential", "DELETE", removeURL, "", body, 401,
			txJSON(t, tx("", "401", "authentication credentials were not provided")), 0, nil},
		{"Remove/NotAToken", "DELETE", removeURL, "AdminToken", body, 401,
			txJSON(t, tx("", "401", "invalid token")), 0, nil},
		{"Remove/WrongSecret", "DELETE", removeURL, tk.Wrong, body, 401,
			txJSON(t, tx("", "401", "invalid token")), 1, []string{"request.authenticated"}},
		{"Remove/Expired", "DELETE", removeURL, tk.Expired, body, 401,
			txJSON(t, tx("", "401", "invalid token")), 1, []string{"request.authenticated"}},
		{"Remove/Revoked", "DELETE", removeURL, tk.Revoked, body, 401,
			txJSON(t, tx("", "401", "invalid token")), 1, []string{"request.authenticated"}},
		{"Remove/MissingScope", "DELETE", removeURL, tk.ReadOnly, body, 403,
			txJSON(t, tx("", "403", scopeMsg(membership.ScopeMembersWrite))), 1, []string{actionRemoveSiteUsers}},
		{"Remove/OtherOrganization", "DELETE", removeURL, tk.Other, body, 404,
			txJSON(t, tx("", "404", "space not found")), tk.OtherOrgID, []string{"batch.removed"}},
		{"Remove/AdminDidNotAdd", "DELETE", removeURL, e.Demo.AdminToken, `{"transactionid":["950"]}`, 403,
			txJSON(t, tx("950", "403", msgNoRights)), 1, []string{"space_member.removed"}},
		{"Remove/PlainMember", "DELETE", removeURL, e.Demo.MemberToken, body, 403,
			txJSON(t, tx("990", "403", msgNoRights), tx("991", "403", msgNoRights)), 1, []string{"space_member.removed", "space_member.removed"}},
		{"Users/NoCredential", "GET", usersURL, "", "", 401,
			`{"error":{"summary":"authentication credentials were not provided","ref":401}}` + "\n", 0, nil},
		{"Users/MissingScope", "GET", usersURL, writeOnly, "", 403,
			fmt.Sprintf(`{"error":{"summary":%q,"ref":403}}`, scopeMsg(membership.ScopeMembersRead)) + "\n", 1, []string{actionListSiteUsers}},
		{"Users/OtherOrganization", "GET", usersURL, tk.Other, "", 404,
			`{"error":{"summary":"space not found","ref":404}}` + "\n", tk.OtherOrgID, []string{actionListSiteUsers}},
		{"Sites/Expired", "GET", e.url + "/api/3/sites", tk.Expired, "", 401,
			`{"error":{"summary":"invalid token","ref":401}}` + "\n", 1, []string{"request.authenticated"}},
		{"Group/NoCredential", "DELETE", groupURL, "", "", 401,
			`{"error":{"summary":"authentication credentials were not provided","ref":401}}` + "\n", 0, nil},
		{"Group/MissingScope", "DELETE", groupURL, tk.ReadOnly, "", 403,
			fmt.Sprintf(`{"error":{"summary":%q,"ref":403}}`, scopeMsg(membership.ScopeMembersWrite)) + "\n", 1, []string{actionRemoveGroupUser}},
		{"Group/OtherOrganization", "DELETE", groupURL, tk.Other, "", 404,
			`{"error":{"summary":"space not found","ref":404}}` + "\n", tk.OtherOrgID, []string{actionRemoveGroupUser}},
		{"Group/PlainMember", "DELETE", groupURL, e.Demo.MemberToken, "", 403,
			`{"error":{"summary":"You do not have rights to remove the specified user.","ref":403}}` + "\n", 1, []string{"group_member.removed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.Snapshot(t)
			marks := e.Mark(t, Interface, tk.OtherOrgID)
			resp, got := dialecttest.Call(t, c.method, c.url, c.token, c.body)
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
		tightURL := fmt.Sprintf("%s/api/3/sites/%d/users", e.tight, e.deal())
		resp, got := dialecttest.Call(t, http.MethodDelete, tightURL, e.Demo.OwnerToken, `{"transactionid":["5000"]}`)
		dialecttest.WantStatus(t, resp, got, http.StatusNotFound)
		resp, got = dialecttest.Call(t, http.MethodDelete, tightURL, e.Demo.OwnerToken, body)
		dialecttest.WantStatus(t, resp, got, http.StatusTooManyRequests)
		if resp.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		if want := txJSON(t, tx("", "429", "rate limit of 0.001 requests per second exceeded")); string(got) != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		e.AssertSnapshot(t, before)
	})
}

// TestWalkthrough runs the README's HighQ section, in order, on one demo,
// and checks the answers it prints.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	site := fmt.Sprintf("%s/api/3/sites/%d", e.url, e.deal())
	steps := []struct {
		name, method, url, token, body, ctype string
		status                                int
		want                                  string
	}{
		{"SiteList", "GET", e.url + "/api/3/sites", e.Demo.AdminToken, "", "", 200, "golden:sites.json"},
		{"SiteUsers", "GET", site + "/users", e.Demo.AdminToken, "", "", 200, "golden:site_users.json"},
		{"RemoveStrings", "DELETE", site + "/users", e.Demo.AdminToken, `{ "transactionid": ["990","991","992"] }`, "application/json", 200,
			"golden:transactionid_strings.json"},
		{"RemoveIntegers", "DELETE", site + "/users", e.Demo.AdminToken, `{ "transactionids": { "transactionid": [ 900, 901, 902, 903 ] } }`, "application/json", 200,
			"golden:transactionids_integers.json"},
		{"AdminMayNotRemove950", "DELETE", site + "/users", e.Demo.AdminToken, `{"transactionid":["950"]}`, "application/json", 403,
			`{"transaction":[{"transactionid":"950","statuscode":"403","reason":"You do not have rights to remove the specified user.","receivertype":null}]}` + "\n"},
		{"OwnerRemovesXML", "DELETE", site + "/users", e.Demo.OwnerToken,
			`<transactionids><transactionid>950</transactionid><transactionid>951</transactionid><transactionid>952</transactionid></transactionids>`, "application/xml", 200,
			xmlHeader + `<transactions><transaction><transactionid>950</transactionid><statuscode>200</statuscode><reason>User removed successfully</reason></transaction><transaction><transactionid>951</transactionid><statuscode>200</statuscode><reason>User removed successfully</reason></transaction><transaction><transactionid>952</transactionid><statuscode>200</statuscode><reason>User removed successfully</reason></transaction></transactions>` + "\n"},
		{"Mixed", "DELETE", site + "/users", e.Demo.AdminToken, `{"transactionid":["990","abc","5000"]}`, "application/json", 400,
			`{"transaction":[{"transactionid":"990","statuscode":"409","reason":"User with the specified User ID was already removed from the site","receivertype":null},{"transactionid":"abc","statuscode":"400","reason":"User ID provided is invalid.","receivertype":null},{"transactionid":"5000","statuscode":"404","reason":"User with the specified User ID does not exist in the site","receivertype":null}]}` + "\n"},
		{"GroupUser", "DELETE", site + "/groups/2/users?userid=20", e.Demo.AdminToken, "", "", 200, ""},
		{"SiteUsersAfter", "GET", site + "/users", e.Demo.AdminToken, "", "", 200,
			`{"user":[{"userid":2,"email":"alice@acme.test","status":"Active","role":"admin","invited":"15 Jan 2026 09:00"}]}` + "\n"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			resp, body := dialecttest.Call(t, s.method, s.url, s.token, s.body, "Content-Type", s.ctype)
			dialecttest.WantStatus(t, resp, body, s.status)
			if name, ok := strings.CutPrefix(s.want, "golden:"); ok {
				golden(t, name, body)
			} else if string(body) != s.want {
				t.Errorf("got  %s\nwant %s", body, s.want)
			}
		})
	}
}
