package tedee

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/membership"
)

// FuzzTedeeBody feeds arbitrary bodies to the decoder and to the whole
// handler. The decoder must return ids within the batch limit or an
// invalid-request error; the handler must never answer a 5xx or an
// unparseable body, and, as a plain member who may remove nobody, must
// never change anything.
//
//	go test ./compat/tedee -run '^$' -fuzz FuzzTedeeBody -fuzztime 30s
func FuzzTedeeBody(f *testing.F) {
	for _, s := range []string{
		"{\n    \"organizationUserIds\": [12]\n}\n",
		"{\n    \"organizationUserIds\": [11, 12, 13]\n}\n",
		`{"organizationUserIds":[11,11,5000,20,0,-3,1.5,12,1e1]}`,
		`{"OrganizationUserIDs":[15],"x":{"y":[1]}}`,
		`{"organizationUserIds":["12"]}`,
		`{"organizationUserIds":null}`,
		`[12]`,
		``,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, "sqlite")
	before := e.snapshot(f)
	h := NewHandler(e.svc, auth.New(e.svc, auth.Limits{}))
	limit := e.svc.BatchLimit()
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := decodeBody(body, limit)
		if err != nil {
			if membership.ErrorCode(err) != membership.CodeInvalid {
				t.Fatalf("decode error %v is not an invalid-request error", err)
			}
		} else {
			if len(items) == 0 || len(items) > limit {
				t.Fatalf("%d items, want 1..%d", len(items), limit)
			}
			for _, it := range items {
				if (it.ref.ID > 0) == (it.ref.Raw != "") || it.ref.ID < 0 {
					t.Fatalf("item %+v names neither exactly one member nor an invalid id", it)
				}
			}
			again, _ := decodeBody(body, limit)
			if !reflect.DeepEqual(items, again) {
				t.Fatalf("decoding twice differs: %+v, %+v", items, again)
			}
		}

		req := httptest.NewRequest(http.MethodDelete, "/api/v37/organization/1/user-groups/"+demo.TedeeGroupUUID+"/members", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.demo.MemberToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if len(body) > MaxBody {
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d for a %d-byte body", rec.Code, len(body))
			}
			err = membership.Errorf(membership.CodeTooLarge, "too large")
		}
		switch {
		case rec.Code >= 500:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		case err == nil && rec.Code != http.StatusMultiStatus, err != nil && rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge:
			t.Fatalf("status %d for decode error %v", rec.Code, err)
		}
		if err == nil {
			var out response
			if jerr := json.Unmarshal(rec.Body.Bytes(), &out); jerr != nil || len(out.OrganizationUsers) != len(items) {
				t.Fatalf("answer %s for %d ids (%v)", rec.Body, len(items), jerr)
			}
		} else {
			var out errorBody
			if jerr := json.Unmarshal(rec.Body.Bytes(), &out); jerr != nil || out.Success || out.StatusCode != rec.Code {
				t.Fatalf("error answer %s (%v)", rec.Body, jerr)
			}
		}
		if after := e.snapshot(t); after != before {
			t.Fatalf("state changed:\n%s\nwas\n%s", after, before)
		}
	})
}
