package main

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// accessRecord is what one access line says.
type accessRecord struct {
	method, route string
	status        int
	took          time.Duration
	requestID     string
	iface         string
	credential    string
}

// accessLogger writes access lines exactly as the server's slog handler
// would, byte for byte, without building a slog.Record: a request pays for
// its line on the hot path, and the handler's general machinery (a record
// of seven attributes, each looked at by kind and quoted by rule) cost
// more than the line itself. A line whose values are not plain printable
// ASCII goes through the handler, which then has the last word on quoting.
type accessLogger struct {
	logger *slog.Logger
	w      io.Writer // where logger's handler writes; nil sends every line through logger
	json   bool
}

// newAccessLogger writes lines to w, the writer of logger's handler, in
// format ("text" or "json"). logger must be one newLogger made, with no
// attributes or groups added, or the lines would differ.
func newAccessLogger(logger *slog.Logger, w io.Writer, format string) *accessLogger {
	return &accessLogger{logger: logger, w: w, json: format == "json"}
}

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (a *accessLogger) log(ctx context.Context, level slog.Level, rec accessRecord) {
	if !a.logger.Enabled(ctx, level) {
		return
	}
	now := time.Now()
	if a.w != nil {
		bp := lineBuffers.Get().(*[]byte)
		if b, ok := appendAccessLine((*bp)[:0], a.json, now, level, rec); ok {
			_, _ = a.w.Write(b) // as slog does, a log that cannot be written does not fail the request
			*bp = b
			lineBuffers.Put(bp)
			return
		}
		lineBuffers.Put(bp)
	}
	a.logger.LogAttrs(ctx, level, "request", rec.attrs()...)
}

// attrs are rec's attributes, in the order of the line.
func (rec accessRecord) attrs() []slog.Attr {
	return []slog.Attr{slog.String("method", rec.method), slog.String("route", rec.route),
		slog.Int("status", rec.status), slog.Duration("duration", rec.took),
		slog.String("request_id", rec.requestID), slog.String("interface", rec.iface),
		slog.String("credential", rec.credential)}
}

// appendAccessLine appends rec's line as slog's text or JSON handler
// writes it, or says it cannot: when a value is not plain printable ASCII
// or, in JSON, the year has no four digits.
func appendAccessLine(b []byte, json bool, t time.Time, level slog.Level, rec accessRecord) ([]byte, bool) {
	for _, s := range [...]string{rec.method, rec.route, rec.requestID, rec.iface, rec.credential} {
		if !plain(s) {
			return b, false
		}
	}
	t = t.Round(0) // as slog does, no monotonic reading
	if json {
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, `{"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"`...)
		b = append(b, level.String()...)
		b = append(b, `","msg":"request","method":`...)
		b = appendJSONString(b, rec.method)
		b = append(b, `,"route":`...)
		b = appendJSONString(b, rec.route)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(rec.status), 10)
		b = append(b, `,"duration":`...)
		b = strconv.AppendInt(b, int64(rec.took), 10)
		b = append(b, `,"request_id":`...)
		b = appendJSONString(b, rec.requestID)
		b = append(b, `,"interface":`...)
		b = appendJSONString(b, rec.iface)
		b = append(b, `,"credential":`...)
		b = appendJSONString(b, rec.credential)
		return append(b, "}\n"...), true
	}
	b = append(b, "time="...)
	b = appendRFC3339Millis(b, t)
	b = append(b, " level="...)
	b = append(b, level.String()...)
	b = append(b, " msg=request method="...)
	b = appendTextString(b, rec.method)
	b = append(b, " route="...)
	b = appendTextString(b, rec.route)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(rec.status), 10)
	b = append(b, " duration="...)
	b = append(b, rec.took.String()...)
	b = append(b, " request_id="...)
	b = appendTextString(b, rec.requestID)
	b = append(b, " interface="...)
	b = appendTextString(b, rec.iface)
	b = append(b, " credential="...)
	b = appendTextString(b, rec.credential)
	return append(b, '\n'), true
}

// plain says s is printable ASCII without a quote or a backslash: a
// string both handlers write as it is, in text quoted only when empty or
// holding a space or '='.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendJSONString appends plain s as slog's JSON handler does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTextString appends plain s as slog's text handler does.
func appendTextString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '=' {
			return appendJSONString(b, s)
		}
	}
	if s == "" {
		return append(b, `""`...)
	}
	return append(b, s...)
}

// appendRFC3339Millis appends t as slog's text handler does: RFC 3339
// with exactly three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	// RFC3339Nano trims trailing zeros; a tenth of a millisecond more
	// keeps four digits, of which the fourth is dropped.
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}
