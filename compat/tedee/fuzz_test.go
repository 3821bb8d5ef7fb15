package tedee

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

// FuzzTedeeBody feeds arbitrary bodies to the decoder. The decoder must
// return ids within the batch limit or an invalid-request error (which the
// handler answers 400 through the one Code→status table). For every body
// it accepts, the 207 answer must encode each echoed id so that it reads
// back the same, and the whole handler, called as a plain member who may
// remove nobody, must answer one result per id, never a 5xx, and change
// nothing. (Only accepted bodies reach the database: a write per input
// would slow the fuzzer a hundredfold.)
//
//	go test ./compat/tedee -run '^$' -fuzz FuzzTedeeBody -fuzztime 60s
func FuzzTedeeBody(f *testing.F) {
	for _, s := range []string{
		"{\n    \"organizationUserIds\": [12]\n}\n",
		"{\n    \"organizationUserIds\": [11, 12, 13]\n}\n",
		`{"organizationUserIds":[11,11,5000,20,0,-3,1.5,12,1e1,-0,1E+400]}`,
		`{"OrganizationUserIDs":[15],"x":{"y":[1]}}`,
		`{"organizationUserIds":["12"]}`,
		`{"organizationUserIds":null}`,
		`[12]`,
		``,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, "sqlite")
	state := func(tb testing.TB) string { return fmt.Sprint(e.ActiveGroupMembers(tb, e.doors())) }
	before := state(f)
	h := NewHandler(e.Svc, auth.New(e.Svc, auth.Limits{}))
	limit := e.Svc.BatchLimit()
	outcomes := dialecttest.Outcomes
	f.Fuzz(func(t *testing.T, body []byte) {
		items, ok := dialecttest.CheckBatchDecode(t, func() ([]item, error) { return decodeBody(body, limit) }, itemRef, limit)
		if !ok {
			return
		}

		// Every outcome reads back id for id.
		out := &response{}
		for i, it := range items {
			r := result{OrganizationUserID: it.raw, Success: i%len(outcomes) == 0}
			if msg := itemError(&membership.ItemResult{Outcome: outcomes[i%len(outcomes)], Message: "conflict"}); msg != "" {
				r.Error = &msg
			}
			out.OrganizationUsers = append(out.OrganizationUsers, r)
		}
		data, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("encode %+v: %v", out, err)
		}
		var back response
		if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(&back, out) {
			t.Fatalf("answer %s reads back as %+v (%v)", data, back, err)
		}
		if len(body) > MaxBody {
			return
		}

		// The whole request, as a plain member.
		req := httptest.NewRequest(http.MethodDelete, "/api/v37/organization/1/user-groups/"+demo.TedeeGroupUUID+"/members", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.Demo.MemberToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusMultiStatus {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var got response
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.OrganizationUsers) != len(items) {
			t.Fatalf("answer %s for %d ids (%v)", rec.Body, len(items), err)
		}
		for i, r := range got.OrganizationUsers {
			if r.Success || r.Error == nil || r.OrganizationUserID != items[i].raw {
				t.Fatalf("result %d %+v for id %s as a plain member", i, r, items[i].raw)
			}
		}
		if after := state(t); after != before {
			t.Fatalf("door group changed: %s, was %s", after, before)
		}
	})
}

func itemRef(it item) membership.MemberRef { return it.ref }
