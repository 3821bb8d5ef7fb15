package respond

import (
	"net/http"
	"strconv"
	"strings"
)

// Sentence turns a core message (lower-case, no final period) into the
// style of APIs that answer whole sentences: capitalized, with a final
// period.
func Sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// Exact writes an encoded body with its Content-Type and an exact
// Content-Length, as the frameworks some dialects imitate do.
func Exact(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client is gone if this fails; HEAD discards it
}
