package highq

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/membership"
)

// FuzzHighQBody feeds arbitrary JSON and XML bodies to the removal
// decoder and to the whole handler. The decoder must return ids within the
// batch limit or an invalid-request error; the handler must never answer a
// 5xx or an unparseable body, and, as a plain member who may remove
// nobody, must never change anything.
//
//	go test ./compat/highq -run '^$' -fuzz FuzzHighQBody -fuzztime 30s
func FuzzHighQBody(f *testing.F) {
	for _, s := range []string{
		`{ "transactionid": ["990","991","992"] }`,
		`{ "transactionids": { "transactionid": [ 900, 901, 902, 903 ] } }`,
		`{ "transactionids": { "transactionid": [ 900, 901, 902, 903, ...etc ] } }`,
		`{"transactionids":{"transactionid":["900",901]}}`,
		`{"transactionid":"990"}`,
		`{"transactionid":["abc",true,null,"",-3,9.5,"0990"]}`,
		`{"transaction":[{"transactionid":"","statuscode":"400","reason":"Request resource or xml is not valid","receivertype":null}]}`,
		`{"transactionid":[[1]]}`,
	} {
		f.Add([]byte(s), false)
	}
	for _, s := range []string{
		`<transactionids><transactionid>900</transactionid><transactionid>901</transactionid><transactionid>902</transactionid><transactionid>903</transactionid></transactionids>`,
		`<?xml version="1.0" encoding="UTF-8"?><transactionids><transactionid> 990 </transactionid><x><y/></x></transactionids>`,
		`<!DOCTYPE transactionids [<!ENTITY a "990">]><transactionids><transactionid>&a;</transactionid></transactionids>`,
		`<transactionids><transactionid>&#57;90</transactionid></transactionids>`,
	} {
		f.Add([]byte(s), true)
	}
	e := newEnv(f, "sqlite")
	before := e.snapshot(f)
	h := NewHandler(e.svc, auth.New(e.svc, auth.Limits{}))
	limit := e.svc.BatchLimit()
	f.Fuzz(func(t *testing.T, body []byte, asXML bool) {
		items, err := decodeBody(body, asXML, limit)
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
			again, _ := decodeBody(body, asXML, limit)
			if !reflect.DeepEqual(items, again) {
				t.Fatalf("decoding twice differs: %+v, %+v", items, again)
			}
		}

		req := httptest.NewRequest(http.MethodDelete, "/api/3/sites/2/users", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.demo.MemberToken)
		if asXML {
			req.Header.Set("Content-Type", "application/xml")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var out transactions
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/xml") {
			err = xml.Unmarshal(rec.Body.Bytes(), &out)
		} else {
			err = json.Unmarshal(rec.Body.Bytes(), &out)
		}
		if err != nil {
			t.Fatalf("unparseable answer %q: %v", rec.Body, err)
		}
		want := 1 // a whole-request error
		if items != nil && len(body) <= MaxBody {
			want = len(items)
		}
		if len(out.Transaction) != want {
			t.Fatalf("%d transactions, want %d: %s", len(out.Transaction), want, rec.Body)
		}
		if after := e.snapshot(t); after != before {
			t.Fatalf("state changed:\n%s\nwas\n%s", after, before)
		}
	})
}
