package highq

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/memberd/memberd/internal/respond"
)

// xmlHeader is the declaration HighQ's documented XML responses carry.
const xmlHeader = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

// HighQ's date forms, as in its site and user models.
const (
	dateLayout     = "02 Jan 2006"
	dateTimeLayout = "02 Jan 2006 15:04"
)

// transactions is the removal response: one status per requested id.
type transactions struct {
	XMLName     xml.Name      `json:"-" xml:"transactions"`
	Transaction []transaction `json:"transaction" xml:"transaction"`
}

// transaction mirrors the document's comment: every value a string and a
// receivertype that is always null.
type transaction struct {
	TransactionID string  `json:"transactionid" xml:"transactionid"`
	StatusCode    string  `json:"statuscode" xml:"statuscode"`
	Reason        string  `json:"reason" xml:"reason"`
	ReceiverType  *string `json:"receivertype" xml:"receivertype,omitempty"`
}

// errorObject is HighQ's documented error format.
type errorObject struct {
	XMLName xml.Name `json:"-" xml:"error"`
	Summary string   `json:"summary" xml:"summary"`
	Ref     int      `json:"ref" xml:"ref"`
}

// MarshalJSON wraps the object as {"error": {...}}, the JSON form of the
// XML's <error> root.
func (e errorObject) MarshalJSON() ([]byte, error) {
	type plain errorObject // without this method
	return json.Marshal(struct {
		Error plain `json:"error"`
	}{plain(e)})
}

type siteList struct {
	XMLName xml.Name `json:"-" xml:"sites"`
	Site    []site   `json:"site" xml:"site"`
}

type site struct {
	ID          int64  `json:"id" xml:"id"`
	SiteName    string `json:"sitename" xml:"sitename"`
	Status      string `json:"status" xml:"status"`
	CreatedDate string `json:"createddate" xml:"createddate"`
}

type userList struct {
	XMLName xml.Name   `json:"-" xml:"users"`
	User    []siteUser `json:"user" xml:"user"`
}

type siteUser struct {
	UserID  int64  `json:"userid" xml:"userid"`
	Email   string `json:"email" xml:"email"`
	Status  string `json:"status" xml:"status"`
	Role    string `json:"role" xml:"role"`
	Invited string `json:"invited" xml:"invited"`
}

// mediaTypes lists the media types a header names, lower-case.
func mediaTypes(header string) []string {
	var types []string
	for part := range strings.SplitSeq(header, ",") {
		if t, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil {
			types = append(types, strings.ToLower(t))
		}
	}
	return types
}

func isXMLType(t string) bool {
	return t == "application/xml" || t == "text/xml" || strings.HasSuffix(t, "+xml")
}

func isJSONType(t string) bool { return t == "application/json" || strings.HasSuffix(t, "+json") }

// isXMLBody decides how to read a removal body: by Content-Type when it
// names xml or json, else by its first non-space byte.
func isXMLBody(r *http.Request, body []byte) bool {
	for _, t := range mediaTypes(r.Header.Get("Content-Type")) {
		switch {
		case isXMLType(t):
			return true
		case isJSONType(t):
			return false
		}
	}
	trimmed := bytes.TrimSpace(body)
	return len(trimmed) > 0 && trimmed[0] == '<'
}

// responseXML decides the response format: Accept first, then the body's.
func responseXML(r *http.Request, bodyXML bool) bool {
	for _, t := range mediaTypes(r.Header.Get("Accept")) {
		switch {
		case isXMLType(t):
			return true
		case isJSONType(t):
			return false
		}
	}
	if bodyXML {
		return true
	}
	// A bodyless call (or an early failure before the body is read) still
	// answers XML to a client that says it sends XML.
	for _, t := range mediaTypes(r.Header.Get("Content-Type")) {
		if isXMLType(t) {
			return true
		}
	}
	return false
}

// writeBody encodes v as XML or JSON with status.
func writeBody(w http.ResponseWriter, status int, asXML bool, v any) {
	if !asXML {
		respond.JSON(w, status, v)
		return
	}
	data, err := xml.Marshal(v)
	if err != nil {
		// Only a programming error can make these fixed types unencodable.
		slog.Error("encode highq xml", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xmlHeader))
	_, _ = w.Write(data)
	_, _ = w.Write([]byte("\n"))
}

// WriteError answers err with HighQ's error object, in XML when the
// request asks for it, for middleware in front of the dialect (load
// shedding).
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, responseXML(r, false), err)
}

// writeError answers err with HighQ's error object.
func writeError(w http.ResponseWriter, r *http.Request, asXML bool, err error) {
	respond.SetRetryAfter(w, err)
	status := respond.Status(err)
	writeBody(w, status, asXML, &errorObject{Summary: respond.Message(r, err), Ref: status})
}

// writeErrorStatus answers a status the mux chose (404, 405).
func writeErrorStatus(w http.ResponseWriter, r *http.Request, status int, summary string) {
	writeBody(w, status, responseXML(r, false), &errorObject{Summary: summary, Ref: status})
}

// writeTransactionError answers a removal that failed as a whole in the
// transaction envelope of the document's comment.
func writeTransactionError(w http.ResponseWriter, r *http.Request, asXML bool, err error) {
	respond.SetRetryAfter(w, err)
	status := respond.Status(err)
	writeBody(w, status, asXML, &transactions{Transaction: []transaction{{
		StatusCode: strconv.Itoa(status), Reason: respond.Message(r, err),
	}}})
}

// writeUnmatched answers a path or method the mux has no route for in the
// dialect's error object.
func writeUnmatched(w http.ResponseWriter, r *http.Request, status int) {
	msg := "The requested resource does not exist"
	if status == http.StatusMethodNotAllowed {
		msg = "Method " + r.Method + " is not allowed for this resource"
	}
	writeErrorStatus(w, r, status, msg)
}
