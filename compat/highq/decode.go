package highq

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/memberd/memberd/internal/ids"
	"github.com/memberd/memberd/membership"
)

// maxXMLDepth caps element nesting; the document's body needs two levels.
const maxXMLDepth = 16

// item is one requested user id: what the client wrote (echoed back as the
// transactionid) and the member it names, or a Raw ref when it names none.
type item struct {
	raw string
	ref membership.MemberRef
}

var (
	errBadBody = membership.Errorf(membership.CodeInvalid, msgBadBody)
	errMissing = membership.Errorf(membership.CodeInvalid, msgMissing)
)

func errTooMany(limit int) error {
	return membership.Errorf(membership.CodeInvalid, "You can remove a maximum of %d users at a time.", limit)
}

// decodeBody reads the ids of a removal body in any of the document's
// forms. It stops at the (limit+1)th id, so no more work is done for an
// oversized request than reading its bounded body.
func decodeBody(body []byte, isXML bool, limit int) ([]item, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errMissing
	}
	var items []item
	var err error
	if isXML {
		items, err = decodeXML(body, limit)
	} else {
		items, err = decodeJSON(body, limit)
	}
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, errMissing
	}
	return items, nil
}

// newItem reads one id as written. A positive base-10 integer names a
// member; anything else is kept raw so that it gets its own "invalid" status.
func newItem(raw string) item {
	raw = strings.TrimSpace(raw)
	if id, ok := ids.Positive(raw); ok {
		return item{raw: raw, ref: membership.MemberRef{ID: id}}
	}
	ref := membership.MemberRef{Raw: raw}
	if raw == "" {
		ref.Raw = `""`
	}
	return item{raw: raw, ref: ref}
}

// decodeJSON accepts {"transactionid": IDS} and
// {"transactionids": {"transactionid": IDS}}, where IDS is a list of
// strings or numbers, or one of them.
func decodeJSON(body []byte, limit int) ([]item, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if !readDelim(dec, '{') {
		return nil, errBadBody
	}
	var items []item
	found := false
	for dec.More() {
		key, ok := readKey(dec)
		if !ok {
			return nil, errBadBody
		}
		var err error
		switch key {
		case "transactionid":
			if found {
				return nil, errBadBody
			}
			found = true
			items, err = readIDs(dec, limit)
		case "transactionids":
			if found {
				return nil, errBadBody
			}
			found = true
			items, err = readWrapped(dec, limit)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return nil, asBadBody(err)
		}
	}
	if !readDelim(dec, '}') {
		return nil, errBadBody
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errBadBody
	}
	if !found {
		return nil, errBadBody
	}
	return items, nil
}

// asBadBody keeps the limit error and turns every other into errBadBody.
func asBadBody(err error) error {
	var e *membership.Error
	if errors.As(err, &e) {
		return e
	}
	return errBadBody
}

func readDelim(dec *json.Decoder, want json.Delim) bool {
	tok, err := dec.Token()
	d, ok := tok.(json.Delim)
	return err == nil && ok && d == want
}

func readKey(dec *json.Decoder) (string, bool) {
	tok, err := dec.Token()
	key, ok := tok.(string)
	return key, err == nil && ok
}

// readWrapped reads {"transactionid": IDS} (or null: no ids).
func readWrapped(dec *json.Decoder, limit int) ([]item, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, errBadBody
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errBadBody
	}
	var items []item
	found := false
	for dec.More() {
		key, ok := readKey(dec)
		if !ok {
			return nil, errBadBody
		}
		if key != "transactionid" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, errBadBody
			}
			continue
		}
		if found {
			return nil, errBadBody
		}
		found = true
		if items, err = readIDs(dec, limit); err != nil {
			return nil, err
		}
	}
	if !readDelim(dec, '}') {
		return nil, errBadBody
	}
	return items, nil
}

// readIDs reads a list of scalar ids, or one scalar, or null.
func readIDs(dec *json.Decoder, limit int) ([]item, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, errBadBody
	}
	d, isDelim := tok.(json.Delim)
	if !isDelim {
		if tok == nil {
			return nil, nil
		}
		return []item{scalarItem(tok)}, nil
	}
	if d != '[' {
		return nil, errBadBody
	}
	var items []item
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errBadBody
		}
		if _, nested := tok.(json.Delim); nested {
			return nil, errBadBody
		}
		items = append(items, scalarItem(tok))
		if len(items) > limit {
			return nil, errTooMany(limit)
		}
	}
	if !readDelim(dec, ']') {
		return nil, errBadBody
	}
	return items, nil
}

// scalarItem reads one JSON scalar as an id.
func scalarItem(tok json.Token) item {
	switch v := tok.(type) {
	case string:
		return newItem(v)
	case json.Number:
		return newItem(v.String())
	case bool:
		return newItem(strconv.FormatBool(v))
	}
	return newItem("null")
}

// decodeXML accepts <transactionids><transactionid>900</transactionid>...
// </transactionids>. It refuses DTDs (and so every entity declaration),
// encodings other than UTF-8, more than one root and deep nesting; other
// elements inside the root are skipped.
func decodeXML(body []byte, limit int) ([]item, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	var (
		items      []item
		text       strings.Builder
		depth      int
		inID       bool
		rootClosed bool
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errBadBody
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, errBadBody
		case xml.StartElement:
			if rootClosed || inID {
				return nil, errBadBody
			}
			depth++
			if depth > maxXMLDepth {
				return nil, errBadBody
			}
			switch {
			case depth == 1 && t.Name.Local != "transactionids":
				return nil, errBadBody
			case depth == 2 && t.Name.Local == "transactionid":
				inID = true
				text.Reset()
			}
		case xml.EndElement:
			if inID {
				inID = false
				items = append(items, newItem(text.String()))
				if len(items) > limit {
					return nil, errTooMany(limit)
				}
			}
			depth--
			if depth == 0 {
				rootClosed = true
			}
		case xml.CharData:
			switch {
			case inID:
				text.Write(t)
			case depth == 0 && len(bytes.TrimSpace(t)) > 0:
				return nil, errBadBody
			}
		}
	}
	if !rootClosed {
		return nil, errBadBody
	}
	return items, nil
}
