package wiggledesk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"

	"github.com/memberd/memberd/membership"
)

// maxEmailLen is the max_length of a Django EmailField.
const maxEmailLen = 254

// maxParts bounds the parts of a multipart body (Django's
// DATA_UPLOAD_MAX_NUMBER_FIELDS is 1000).
const maxParts = 1000

// The media types Django REST framework's default parsers read, in the
// order it tries them.
var parsers = []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}

// decodeRemoval reads the e-mail address out of a POST body the way Django
// REST framework's default parsers and an EmailField would, and returns it
// trimmed (not yet lower-cased: the core normalizes). Every failure is a
// *drfError carrying DRF's wording.
func decodeRemoval(contentType string, body []byte) (string, error) {
	// DRF hands an empty body to the serializer as no data at all, whatever
	// its Content-Type, so the answer is "required", not a parse error.
	if len(body) == 0 {
		return validateEmail(nil, false)
	}
	switch parser(contentType) {
	case "application/json":
		return decodeJSON(body)
	case "application/x-www-form-urlencoded":
		v, ok := lastFormValue(string(body), fieldName)
		return validateEmail(v, ok)
	case "multipart/form-data":
		return decodeMultipart(contentType, body)
	}
	return "", &drfError{
		err:    membership.Errorf(membership.CodeUnsupportedMedia, "unsupported media type %q", contentType),
		detail: fmt.Sprintf("Unsupported media type %q in request.", contentType),
	}
}

// parser picks the first parser whose media type matches contentType,
// with DRF's rule that a wildcard in the request's type matches too.
func parser(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	main, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(mt)), "/")
	if !ok {
		return ""
	}
	for _, p := range parsers {
		pm, ps, _ := strings.Cut(p, "/")
		if (main == "*" || main == pm) && (sub == "*" || sub == ps) {
			return p
		}
	}
	return ""
}

func decodeJSON(body []byte) (string, error) {
	var data any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		return "", parseError("JSON parse error - " + err.Error())
	}
	// Python's json.load refuses anything after the first value too.
	if _, err := dec.Token(); err != io.EOF {
		return "", parseError("JSON parse error - Extra data")
	}
	obj, ok := data.(map[string]any)
	if !ok {
		if data == nil {
			return "", nonFieldError("No data provided")
		}
		return "", nonFieldError(fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", pythonType(data)))
	}
	v, ok := obj[fieldName]
	return validateEmail(v, ok)
}

// pythonType names a decoded JSON value's type as Python would.
func pythonType(v any) string {
	switch v := v.(type) {
	case []any:
		return "list"
	case string:
		return "str"
	case bool:
		return "bool"
	case json.Number:
		if strings.ContainsAny(v.String(), ".eE") {
			return "float"
		}
		return "int"
	}
	return "NoneType"
}

// lastFormValue returns the last value of key in an urlencoded body: a
// Django QueryDict answers the last one. Like Python's parse_qsl with
// keep_blank_values, a key without "=" has the empty value and a broken
// %-escape is kept as it is instead of failing the request.
func lastFormValue(body, key string) (any, bool) {
	var value any
	found := false
	for pair := range strings.SplitSeq(body, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if formUnescape(k) == key {
			value, found = formUnescape(v), true
		}
	}
	return value, found
}

func formUnescape(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if u, err := url.PathUnescape(s[i : i+3]); err == nil {
				b.WriteString(u)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// uploadedFile stands for a file part: DRF merges files into request.data,
// and a CharField refuses one as "Not a valid string."
type uploadedFile struct{}

func decodeMultipart(contentType string, body []byte) (string, error) {
	_, params, err := mime.ParseMediaType(contentType)
	boundary := params["boundary"]
	if err != nil || boundary == "" {
		return "", parseError("Multipart form parse error - Invalid boundary in multipart: None")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var value any
	found := false
	for range maxParts {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return validateEmail(value, found)
		}
		if err != nil {
			return "", parseError("Multipart form parse error - " + err.Error())
		}
		if part.FormName() != fieldName {
			continue
		}
		if part.FileName() != "" {
			value, found = uploadedFile{}, true
			continue
		}
		data, err := io.ReadAll(part) // bounded: the whole body is
		if err != nil {
			return "", parseError("Multipart form parse error - " + err.Error())
		}
		value, found = string(data), true
	}
	return "", parseError(fmt.Sprintf("Multipart form parse error - more than %d parts", maxParts))
}

// validateEmail applies an EmailField's checks in DRF's order: presence,
// null, type, blank (after trimming), then every validator, all of whose
// messages are reported together.
func validateEmail(v any, present bool) (string, error) {
	if !present {
		return "", fieldError("This field is required.")
	}
	var s string
	switch v := v.(type) {
	case nil:
		return "", fieldError("This field may not be null.")
	case string:
		s = v
	case json.Number:
		s = v.String() // CharField accepts numbers as their text
	default:
		return "", fieldError("Not a valid string.")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fieldError("This field may not be blank.")
	}
	var msgs []string
	if len([]rune(s)) > maxEmailLen {
		msgs = append(msgs, fmt.Sprintf("Ensure this field has no more than %d characters.", maxEmailLen))
	}
	if strings.ContainsRune(s, 0) {
		msgs = append(msgs, "Null characters are not allowed.")
	}
	if membership.ValidEmail(s) != nil {
		msgs = append(msgs, "Enter a valid email address.")
	}
	if len(msgs) > 0 {
		return "", fieldError(msgs...)
	}
	return s, nil
}
