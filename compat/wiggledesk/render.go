package wiggledesk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// fieldName is the one field the endpoint reads.
const fieldName = "email_invited"

// drfError is an error as Django REST framework words it. err carries the
// core Code, which alone picks the HTTP status (respond.Status); the rest
// picks the body: {"detail": ...}, or {field: [messages...]}.
type drfError struct {
	err      error
	field    string // "" for {"detail": ...}
	detail   string
	messages []string // for field errors
}

func (e *drfError) Error() string { return e.err.Error() }
func (e *drfError) Unwrap() error { return e.err }

func fieldError(msgs ...string) *drfError {
	return &drfError{
		err:      membership.Errorf(membership.CodeInvalid, "%s: %s", fieldName, strings.Join(msgs, " ")),
		field:    fieldName,
		messages: msgs,
	}
}

func nonFieldError(msg string) *drfError {
	return &drfError{err: membership.Errorf(membership.CodeInvalid, "%s", msg), field: "non_field_errors", messages: []string{msg}}
}

func parseError(detail string) *drfError {
	return &drfError{err: membership.Errorf(membership.CodeInvalid, "%s", detail), detail: detail}
}

func methodNotAllowed(method string) *drfError {
	return &drfError{
		err:    membership.Errorf(membership.CodeMethodNotAllowed, "method %q not allowed", method),
		detail: fmt.Sprintf("Method %q not allowed.", method),
	}
}

var errNotFound = &drfError{err: membership.Errorf(membership.CodeNotFound, "not found"), detail: "Not found."}

// DRF's stock messages for the refusals the core codes stand for.
const (
	detailNotProvided  = "Authentication credentials were not provided."
	detailInvalidToken = "Invalid token."
	detailForbidden    = "You do not have permission to perform this action."
	detailNotFound     = "Not found."
	detailServerError  = "A server error occurred."
	alreadyRemoved     = "This user has already been removed."
)

// translate words err as DRF would. A conflict about the removal (the user
// is already removed, or is the last owner) becomes a validation error on
// email_invited, as a DRF serializer's validate_email_invited raises it:
// 400, not 409.
func translate(r *http.Request, w http.ResponseWriter, err error) *drfError {
	var d *drfError
	if errors.As(err, &d) {
		return d
	}
	switch membership.ErrorCode(err) {
	case membership.CodeUnauthorized:
		return &drfError{err: err, detail: authDetail(r)}
	case membership.CodeForbidden:
		return &drfError{err: err, detail: detailForbidden}
	case membership.CodeNotFound:
		return &drfError{err: err, detail: detailNotFound}
	case membership.CodeConflict:
		msg := respond.Sentence(membership.ErrorMessage(err))
		if errors.Is(err, membership.ErrAlreadyRemoved) {
			msg = alreadyRemoved
		}
		return &drfError{
			err:      &membership.Error{Code: membership.CodeInvalid, Message: msg, Err: err},
			field:    fieldName,
			messages: []string{msg},
		}
	case membership.CodeRateLimited:
		respond.SetRetryAfter(w, err)
		secs, _ := strconv.Atoi(w.Header().Get("Retry-After"))
		unit := "seconds"
		if secs == 1 {
			unit = "second"
		}
		return &drfError{err: err, detail: fmt.Sprintf("Request was throttled. Expected available in %d %s.", secs, unit)}
	case membership.CodeInternal:
		respond.Message(r, err) // logs it
		return &drfError{err: err, detail: detailServerError}
	}
	return &drfError{err: err, detail: respond.Sentence(respond.Message(r, err))}
}

// authDetail words a 401 as DRF's TokenAuthentication does, from what the
// request carried: no "token" header at all, a keyword without a key, a
// key with spaces, or a key that does not authenticate.
func authDetail(r *http.Request) string {
	words := strings.Fields(r.Header.Get("Authorization"))
	switch {
	case len(words) == 0 || !strings.EqualFold(words[0], "token"):
		return detailNotProvided
	case len(words) == 1:
		return "Invalid token header. No credentials provided."
	case len(words) > 2:
		return "Invalid token header. Token string should not contain spaces."
	}
	return detailInvalidToken
}

// setHeaders sets what every response of the endpoint carries: DRF's
// Allow and Vary, and Django's security middleware headers as the seed
// shows them.
func setHeaders(w http.ResponseWriter, allow string) {
	h := w.Header()
	h.Set("Allow", allow)
	h.Set("Vary", "Accept")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Referrer-Policy", "same-origin")
}

// render encodes v as DRF's JSONRenderer does by default: compact
// separators, UTF-8 (no \u escapes beyond the required ones) and no
// trailing newline.
func render(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only our own types are encoded here; this cannot happen.
		return []byte(`{"detail":"A server error occurred."}`)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// writeJSON writes v with an exact Content-Length.
func writeJSON(w http.ResponseWriter, status int, v any) {
	respond.Exact(w, status, "application/json", render(v))
}

// WriteError writes err in DRF's format, for middleware in front of the
// dialect (load shedding).
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	setHeaders(w, allowCollection)
	writeError(w, r, err)
}

// writeError writes err in DRF's format with the status of its Code.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	respond.SetRetryAfter(w, err) // 429 and 503 say when to come back
	d := translate(r, w, err)
	status := respond.Status(d)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Token")
	}
	if d.field != "" {
		writeJSON(w, status, map[string][]string{d.field: d.messages})
		return
	}
	writeJSON(w, status, detailBody{Detail: d.detail})
}

type detailBody struct {
	Detail string `json:"detail"`
}

// metadata is DRF's SimpleMetadata answer to OPTIONS.
type metadata struct {
	Name        string                   `json:"name"`
	Description string                   `json:"description"`
	Renders     []string                 `json:"renders"`
	Parses      []string                 `json:"parses"`
	Actions     map[string]orderedFields `json:"actions,omitempty"`
}

// fieldInfo keeps SimpleMetadata's key order: type, required, then the
// field's attributes.
type fieldInfo struct {
	Type      string `json:"type"`
	Required  bool   `json:"required"`
	ReadOnly  bool   `json:"read_only"`
	Label     string `json:"label"`
	MaxLength int    `json:"max_length,omitempty"`
}

// orderedFields marshals serializer fields in declaration order.
type orderedFields []namedField

type namedField struct {
	name string
	info fieldInfo
}

func (f orderedFields) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, nf := range f {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(nf.name)
		v, err := json.Marshal(nf.info)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
