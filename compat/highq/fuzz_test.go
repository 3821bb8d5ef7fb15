package highq

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

// FuzzHighQBody feeds arbitrary JSON and XML bodies to the removal
// decoder. The decoder must return ids within the batch limit or an
// invalid-request error (which the handler answers 400 through the one
// Code→status table). For every body it accepts, the transaction envelope
// must encode each echoed id in both formats so that it reads back the
// same, and the whole handler, called as a plain member who may remove
// nobody, must answer one transaction per id, never a 5xx, and change
// nothing. (Only accepted bodies reach the database: a write per input
// would slow the fuzzer a hundredfold.)
//
//	go test ./compat/highq -run '^$' -fuzz FuzzHighQBody -fuzztime 60s
func FuzzHighQBody(f *testing.F) {
	for _, s := range []string{
		`{ "transactionid": ["990","991","992"] }`,
		`{ "transactionids": { "transactionid": [ 900, 901, 902, 903 ] } }`,
		`{ "transactionids": { "transactionid": [ 900, 901, 902, 903, ...etc ] } }`,
		`{"transactionids":{"transactionid":["900",901]}}`,
		`{"transactionid":"990"}`,
		`{"transactionid":["abc",true,null,"",-3,9.5,"0990","<&>\u0000\ud800"]}`,
		`{"transaction":[{"transactionid":"","statuscode":"400","reason":"Request resource or xml is not valid","receivertype":null}]}`,
		`{"transactionid":[[1]]}`,
	} {
		f.Add([]byte(s), false)
	}
	for _, s := range []string{
		`<transactionids><transactionid>900</transactionid><transactionid>901</transactionid><transactionid>902</transactionid><transactionid>903</transactionid></transactionids>`,
		`<?xml version="1.0" encoding="UTF-8"?><transactionids><transactionid> 990 </transactionid><x><y/></x></transactionids>`,
		`<!DOCTYPE transactionids [<!ENTITY a "990">]><transactionids><transactionid>&a;</transactionid></transactionids>`,
		`<transactionids><transactionid>&#57;90</transactionid><transactionid>&lt;&#xD;]]&gt;</transactionid></transactionids>`,
	} {
		f.Add([]byte(s), true)
	}
	e := newEnv(f, "sqlite")
	state := func(tb testing.TB) string { return fmt.Sprint(e.ActiveSpaceMembers(tb, e.deal())) }
	before := state(f)
	h := NewHandler(e.Svc, auth.New(e.Svc, auth.Limits{}))
	limit := e.Svc.BatchLimit()
	outcomes := dialecttest.Outcomes
	f.Fuzz(func(t *testing.T, body []byte, asXML bool) {
		items, ok := dialecttest.CheckBatchDecode(t, func() ([]item, error) { return decodeBody(body, asXML, limit) }, itemRef, limit)
		if !ok {
			return
		}

		// Every outcome, in both formats, reads back id for id.
		res := &membership.BatchResult{}
		for i := range items {
			it := &membership.ItemResult{Index: i, Outcome: outcomes[i%len(outcomes)], Message: "conflict"}
			if it.Outcome == membership.OutcomeRemoved {
				res.Removed++
			} else {
				res.Failed++
			}
			res.Items = append(res.Items, it)
		}
		status, out := transactionsOf(items, res)
		for _, x := range []bool{false, true} {
			rec := httptest.NewRecorder()
			writeBody(rec, status, x, out)
			rows := readTransactions(t, rec)
			if len(rows) != len(items) {
				t.Fatalf("%d transactions for %d ids: %s", len(rows), len(items), rec.Body)
			}
			for i, row := range rows {
				if raw := items[i].raw; roundTrips(raw) && row.TransactionID != raw {
					t.Fatalf("id %q came back as %q (xml %v)", raw, row.TransactionID, x)
				}
			}
		}
		if len(body) > MaxBody {
			return
		}

		// The whole request, as a plain member.
		req := httptest.NewRequest(http.MethodDelete, fmt.Sprintf("/api/3/sites/%d/users", e.deal()), bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.Demo.MemberToken)
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
		if rows := readTransactions(t, rec); len(rows) != len(items) {
			t.Fatalf("%d transactions for %d ids: %s", len(rows), len(items), rec.Body)
		}
		if after := state(t); after != before {
			t.Fatalf("site members changed: %s, were %s", after, before)
		}
	})
}

func readTransactions(tb testing.TB, rec *httptest.ResponseRecorder) []transaction {
	tb.Helper()
	var out transactions
	var err error
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/xml") {
		err = xml.Unmarshal(rec.Body.Bytes(), &out)
	} else {
		err = json.Unmarshal(rec.Body.Bytes(), &out)
	}
	if err != nil {
		tb.Fatalf("unparseable answer %q: %v", rec.Body, err)
	}
	return out.Transaction
}

// roundTrips reports whether s survives JSON and XML unchanged: valid
// UTF-8 of characters XML allows (others are replaced, by design).
func roundTrips(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !(r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
			return false
		}
	}
	return true
}

func itemRef(it item) membership.MemberRef { return it.ref }
