package jicoo

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// errorBody is Jicoo's error envelope as this package answers it.
type errorBody struct {
	Errors errorDetail `json:"errors"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Jicoo's own summaries (its "Errors" page) for the statuses whose cause a
// client cannot fix by reading more.
var summaries = map[int]string{
	http.StatusUnauthorized:    "No valid API key provided.",
	http.StatusForbidden:       "The API key doesn't have permissions to perform the request.",
	http.StatusNotFound:        "The requested resource doesn't exist.",
	http.StatusTooManyRequests: "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
}

// translate maps a core answer onto Jicoo's model, in which a removed user
// is no longer in the organization: removing one again is 404, and a state
// conflict (the last owner) is a 422 "cannot process", Jicoo having no 409.
func translate(err error) error {
	if errors.Is(err, membership.ErrAlreadyRemoved) {
		return &membership.Error{Code: membership.CodeNotFound, Message: "the user is not in the organization", Err: err}
	}
	if membership.ErrorCode(err) == membership.CodeConflict {
		return &membership.Error{Code: membership.CodeUnprocessable, Message: membership.ErrorMessage(err), Err: err}
	}
	return err
}

// WriteError answers err in Jicoo's envelope, for middleware in front of
// the dialect (load shedding).
func WriteError(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, err) }

// writeError answers err in Jicoo's envelope with its Code's status.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = translate(err)
	status := respond.Status(err)
	respond.SetRetryAfter(w, err)
	msg, ok := summaries[status]
	switch {
	case status >= 500:
		respond.Message(r, err) // logs it
		msg = "Something went wrong on our end."
	case !ok:
		msg = respond.Sentence(respond.Message(r, err))
	}
	code := strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	switch status {
	case http.StatusRequestEntityTooLarge:
		code = "payload_too_large"
	case http.StatusUnprocessableEntity:
		code = "unprocessable_entity"
	}
	writeJSON(w, status, errorBody{Errors: errorDetail{Code: code, Message: msg}})
}

// writeJSON writes v compactly with an exact Content-Length, as Jicoo's
// API (a Rails-style JSON API) does.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own types are encoded here; this cannot happen.
		body = []byte(`{"errors":{"code":"internal_server_error","message":"Something went wrong on our end."}}`)
		status = http.StatusInternalServerError
	}
	respond.Exact(w, status, "application/json; charset=utf-8", body)
}

// user is an organization user as Jicoo's API spells it.
type user struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

func userOf(m *membership.Member) user {
	return user{ID: m.UUID, Name: m.Name, Email: m.Email, Role: string(m.Role),
		CreatedAt: jicooTime(m.CreatedAt), UpdatedAt: jicooTime(m.UpdatedAt)}
}

// jicooTime is Jicoo's timestamp form: UTC with milliseconds.
func jicooTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type one struct {
	Data user `json:"data"`
}

type list struct {
	Data       []user     `json:"data"`
	Pagination pagination `json:"pagination"`
}

// pagination is the block Jicoo's list endpoints answer with.
type pagination struct {
	TotalCount    int  `json:"totalCount"`
	Count         int  `json:"count"`
	CurrentPage   int  `json:"currentPage"`
	NextPage      *int `json:"nextPage"`
	NumberOfPages int  `json:"numberOfPages"`
}
