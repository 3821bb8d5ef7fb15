package membership

import (
	"errors"
	"fmt"
)

// Code classifies an error for every adapter. Each adapter maps a Code to
// its own status and envelope through one table (internal/respond).
type Code string

// Error codes. A Code says what went wrong from the client's point of view.
const (
	CodeInvalid       Code = "invalid"       // 400: the request itself is malformed
	CodeUnauthorized  Code = "unauthorized"  // 401: no valid credential
	CodeForbidden     Code = "forbidden"     // 403: the credential may not do this
	CodeNotFound      Code = "not_found"     // 404: absent, or another organization's
	CodeConflict      Code = "conflict"      // 409: the state forbids it (already removed, pending)
	CodeGone          Code = "gone"          // 410: the interface is past its sunset
	CodeUnprocessable Code = "unprocessable" // 422: well formed but unusable (idempotency key reuse)
	CodeTooLarge      Code = "too_large"     // 413: a named limit was exceeded
	CodeRateLimited   Code = "rate_limited"  // 429: the credential's rate limit
	CodeUnavailable   Code = "unavailable"   // 503: overloaded or shutting down
	CodeInternal      Code = "internal"      // 500: a bug or a failed dependency
)

// Refusals of guarded removals.
const (
	// CodePreconditionFailed (412): a removal no longer matches the plan
	// (If-Match) it was previewed as.
	CodePreconditionFailed Code = "precondition_failed"
	// CodeApprovalRequired (409): a removal above the organization's
	// limits waits, as a plan, for a second owner's approval.
	CodeApprovalRequired Code = "approval_required"
)

// Refusals of the HTTP request itself, before any core call, that each
// dialect must still answer in its own format (so they need a Code).
const (
	CodeMethodNotAllowed Code = "method_not_allowed"     // 405: the path does not answer the method
	CodeUnsupportedMedia Code = "unsupported_media_type" // 415: the body's Content-Type is not one the interface reads
)

// Error carries a Message that is safe to show clients. Err is the cause:
// logged, never shown.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error whose message is shown to clients.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the Code of the first *Error in err's chain, or
// CodeInternal when there is none: an unclassified error is a bug.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err, or "internal error".
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal {
		return e.Message
	}
	return "internal error"
}

// isRefusal reports whether err is the service saying no (as opposed to
// failing): refusals are audited as refused attempts.
func isRefusal(err error) bool {
	switch ErrorCode(err) {
	case CodeInvalid, CodeForbidden, CodeNotFound, CodeConflict, CodeTooLarge, CodeUnprocessable,
		CodePreconditionFailed, CodeApprovalRequired:
		return true
	}
	return false
}
