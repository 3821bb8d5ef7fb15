package membership

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Export formats.
const (
	ExportJSONL = "jsonl"
	ExportCSV   = "csv"
)

// ExportPage is how many events an export reads per transaction: an
// export holds one page at a time, however many events it writes.
const ExportPage = 1000

// ExportColumns are the CSV export's columns: the Event's JSON fields.
var ExportColumns = []string{"id", "uuid", "organization_id", "at", "actor_member_id", "credential_id", "interface", "request_id",
	"action", "outcome", "target_type", "target_id", "target_member_id", "target_ref", "message", "before", "after",
	"seq", "prev_hash", "hash"}

// EventWriter writes events as JSON Lines (one Event object a line) or as
// CSV (a header line of ExportColumns, then one line an event).
type EventWriter struct {
	csv *csv.Writer
	enc *json.Encoder
}

// NewEventWriter returns the writer of format (ExportJSONL or ExportCSV)
// on w; a CSV writer writes its header line at once.
func NewEventWriter(w io.Writer, format string) (*EventWriter, error) {
	switch format {
	case ExportJSONL, "":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return &EventWriter{enc: enc}, nil
	case ExportCSV:
		x := &EventWriter{csv: csv.NewWriter(w)}
		return x, x.csv.Write(ExportColumns)
	}
	return nil, Errorf(CodeInvalid, "format must be %s or %s", ExportJSONL, ExportCSV)
}

// Write writes evs and flushes them to the underlying writer.
func (x *EventWriter) Write(evs []*Event) error {
	for _, e := range evs {
		var err error
		if x.csv != nil {
			err = x.csv.Write(csvRecord(e))
		} else {
			err = x.enc.Encode(e)
		}
		if err != nil {
			return fmt.Errorf("write event %d: %w", e.ID, err)
		}
	}
	if x.csv != nil {
		x.csv.Flush()
		return x.csv.Error()
	}
	return nil
}

func csvRecord(e *Event) []string {
	i := func(v int64) string {
		if v == 0 {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	return []string{i(e.ID), e.UUID, i(e.OrgID), e.At.Format(time.RFC3339Nano), i(e.ActorMemberID), i(e.CredentialID),
		e.Interface, e.RequestID, e.Action, e.Outcome, e.TargetType, i(e.TargetID), i(e.TargetMemberID), e.TargetRef,
		e.Message, string(e.Before), string(e.After), i(e.Seq), e.PrevHash, e.Hash}
}
