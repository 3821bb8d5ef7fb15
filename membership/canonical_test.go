package membership

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
	"unicode/utf8"
)

// canonicalEvent is the canonical content as the struct that encoding/json
// encoded before appendCanonicalEvent: the chains stored since hash it so.
type canonicalEvent struct {
	V              int     `json:"v"`
	OrgID          int64   `json:"organization_id"`
	Seq            int64   `json:"seq"`
	PrevHash       string  `json:"prev_hash"`
	UUID           string  `json:"uuid"`
	At             int64   `json:"at"`
	ActorMemberID  int64   `json:"actor_member_id"`
	CredentialID   int64   `json:"credential_id"`
	Interface      string  `json:"interface"`
	RequestID      string  `json:"request_id"`
	Action         string  `json:"action"`
	Outcome        string  `json:"outcome"`
	TargetType     string  `json:"target_type"`
	TargetID       int64   `json:"target_id"`
	TargetMemberID int64   `json:"target_member_id"`
	TargetRef      string  `json:"target_ref"`
	Message        string  `json:"message"`
	Before         *string `json:"before"`
	After          *string `json:"after"`
}

// reflectCanonical is EventCanonical as it was: encoding/json with HTML
// escaping off.
func reflectCanonical(e *Event) []byte {
	text := func(b []byte) *string {
		if b == nil {
			return nil
		}
		s := string(b)
		return &s
	}
	return canonicalJSON(canonicalEvent{V: 1, OrgID: e.OrgID, Seq: e.Seq, PrevHash: e.PrevHash, UUID: e.UUID, At: e.At.UnixMicro(),
		ActorMemberID: e.ActorMemberID, CredentialID: e.CredentialID, Interface: e.Interface, RequestID: e.RequestID,
		Action: e.Action, Outcome: e.Outcome, TargetType: e.TargetType, TargetID: e.TargetID,
		TargetMemberID: e.TargetMemberID, TargetRef: e.TargetRef, Message: e.Message, Before: text(e.Before), After: text(e.After)})
}

// strangeStrings are texts whose JSON escaping differs from their bytes.
var strangeStrings = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "é ü 日本 🙂", "\u2028\u2029", "bad \xff\xfe utf8 \xc3", "\xe2\x80", "\xed\xa0\x80 surrogate",
	`{"id":7,"email":"a<b>@x.test","roles":["admin"]}`, "end\\",
}

// randomString mixes ASCII, control bytes, multi-byte runes, separators
// and invalid bytes.
func randomString(r *rand.Rand) string {
	var b []byte
	for range r.IntN(40) {
		switch r.IntN(6) {
		case 0:
			b = append(b, byte(r.IntN(0x20)))
		case 1:
			b = append(b, byte(0x80+r.IntN(0x80)))
		case 2:
			b = utf8.AppendRune(b, rune(r.IntN(0x110000)))
		case 3:
			b = utf8.AppendRune(b, []rune{'\u2028', '\u2029', '"', '\\', '<', '>', '&', 0x7f}[r.IntN(8)])
		default:
			b = append(b, byte(0x20+r.IntN(0x60)))
		}
	}
	return string(b)
}

// The audit chain's hashes are over these bytes: the hand-written
// encoding must be encoding/json's to the byte.
func TestEventCanonicalJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 16))
	pick := func() string {
		if r.IntN(2) == 0 {
			return strangeStrings[r.IntN(len(strangeStrings))]
		}
		return randomString(r)
	}
	text := func() []byte {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []byte{}
		}
		return []byte(pick())
	}
	for i := range 20000 {
		e := &Event{OrgID: r.Int64N(1 << 40), Seq: r.Int64(), PrevHash: pick(), UUID: pick(),
			At: time.UnixMicro(r.Int64N(1<<52) - 1<<51), ActorMemberID: r.Int64() - 1<<62, CredentialID: r.Int64N(100),
			Interface: pick(), RequestID: pick(), Action: pick(), Outcome: pick(), TargetType: pick(),
			TargetID: r.Int64(), TargetMemberID: -r.Int64(), TargetRef: pick(), Message: pick(), Before: text(), After: text()}
		if i == 0 {
			e = &Event{}
		}
		got, want := EventCanonical(e), reflectCanonical(e)
		if !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
		if !json.Valid(got) {
			t.Fatalf("event %d: invalid JSON %s", i, got)
		}
	}
	for i := range 20000 {
		s := pick()
		if i < len(strangeStrings) {
			s = strangeStrings[i]
		}
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s, true); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q, html) = %s, want %s", s, got, want)
		}
	}
}

// A known event's hash, computed before the encoding was written by hand.
func TestEventHashKnown(t *testing.T) {
	e := &Event{OrgID: 3, Seq: 9, PrevHash: "ab", UUID: "u-1", At: time.UnixMicro(1765000000123456), ActorMemberID: 4,
		Interface: "jicoo", Action: ActionMemberRemoved, Outcome: OutcomeOK, TargetType: "member", TargetID: 5,
		TargetMemberID: 5, Before: []byte(`{"email":"a<b>\u2028@x"}`)}
	sum := sha256.Sum256(reflectCanonical(e))
	if got, want := EventHash(e), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("EventHash = %s, want %s", got, want)
	}
}

func BenchmarkEventHash(b *testing.B) {
	e := &Event{OrgID: 3, Seq: 9, PrevHash: "4f1c2a9e6b0d7c3e8a5f1b2c9d0e7a6b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f", UUID: NewUUID(),
		At: time.Now(), ActorMemberID: 4, CredentialID: 2, Interface: "jicoo", RequestID: "req-123", Action: ActionMemberRemoved,
		Outcome: OutcomeOK, TargetType: "member", TargetID: 5, TargetMemberID: 5,
		Before: []byte(`{"id":5,"uuid":"0b9e6c1a-5d1f-4e0a-9c43-6a0f3e2b7d11","organization_id":3,"email":"m5@bench.test","name":"","role":"member","status":"active","created_at":"2026-12-06T17:00:00Z","updated_at":"2026-12-06T17:00:00Z"}`),
		After:  []byte(`{"id":5,"uuid":"0b9e6c1a-5d1f-4e0a-9c43-6a0f3e2b7d11","organization_id":3,"email":"m5@bench.test","name":"","role":"member","status":"removed","created_at":"2026-12-06T17:00:00Z","updated_at":"2026-12-06T17:01:00Z","removed_at":"2026-12-06T17:01:00Z","removed_by":4}`)}
	b.ReportAllocs()
	for b.Loop() {
		EventHash(e)
	}
}
