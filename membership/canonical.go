package membership

import (
	"strconv"
	"unicode/utf8"
)

// appendCanonicalEvent appends e's canonical content (see EventCanonical)
// to b. It writes the bytes encoding/json writes for the canonicalEvent
// struct without HTML escaping, field for field (TestEventCanonicalJSON
// holds it to that), without reflection: every event is hashed by the
// transaction that writes it, on SQLite inside the single writer.
func appendCanonicalEvent(b []byte, e *Event) []byte {
	b = append(b, `{"v":1,"organization_id":`...)
	b = strconv.AppendInt(b, e.OrgID, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"prev_hash":`...)
	b = appendJSONString(b, e.PrevHash, false)
	b = append(b, `,"uuid":`...)
	b = appendJSONString(b, e.UUID, false)
	b = append(b, `,"at":`...)
	b = strconv.AppendInt(b, e.At.UnixMicro(), 10)
	b = append(b, `,"actor_member_id":`...)
	b = strconv.AppendInt(b, e.ActorMemberID, 10)
	b = append(b, `,"credential_id":`...)
	b = strconv.AppendInt(b, e.CredentialID, 10)
	b = append(b, `,"interface":`...)
	b = appendJSONString(b, e.Interface, false)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, e.RequestID, false)
	b = append(b, `,"action":`...)
	b = appendJSONString(b, e.Action, false)
	b = append(b, `,"outcome":`...)
	b = appendJSONString(b, e.Outcome, false)
	b = append(b, `,"target_type":`...)
	b = appendJSONString(b, e.TargetType, false)
	b = append(b, `,"target_id":`...)
	b = strconv.AppendInt(b, e.TargetID, 10)
	b = append(b, `,"target_member_id":`...)
	b = strconv.AppendInt(b, e.TargetMemberID, 10)
	b = append(b, `,"target_ref":`...)
	b = appendJSONString(b, e.TargetRef, false)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, e.Message, false)
	b = append(b, `,"before":`...)
	b = appendJSONText(b, e.Before)
	b = append(b, `,"after":`...)
	b = appendJSONText(b, e.After)
	return append(b, '}')
}

// appendJSONText appends stored text as a JSON string, or null when there
// is none.
func appendJSONText(b, text []byte) []byte {
	if text == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, text, false)
}

const hexDigits = "0123456789abcdef"

// jsonSafe and htmlSafe say which ASCII bytes a JSON string holds as they
// are, without and with HTML escaping.
var jsonSafe, htmlSafe = func() (plain, html [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		plain[c] = c != '"' && c != '\\'
		html[c] = plain[c] && c != '<' && c != '>' && c != '&'
	}
	return plain, html
}()

// appendJSONString appends s as encoding/json quotes a string: '"' and
// '\\' escaped, control characters as \b, \f, \n, \r, \t or \u00XX, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped, and with html '<', '>' and
// '&' as \u00XX (json.Marshal's default).
func appendJSONString[T string | []byte](b []byte, s T, html bool) []byte {
	safe := &jsonSafe
	if html {
		safe = &htmlSafe
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
