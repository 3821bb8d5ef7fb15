package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
)

// stateFile is offboard's journal: one JSON object a line, appended and
// written straight to the file, so a run stopped at any point (Ctrl-C, a
// crash) leaves every answer it got. The first line names the CSV (its
// hash), the mode and the row count; then a "sent" line precedes each
// batch request and a result line follows each row's answer.
type stateFile struct {
	f *os.File
	// done is every row with a recorded outcome.
	done []*rowResult
	// pending are the batches sent without a recorded answer, in order.
	pending [][]int
}

type stateHeader struct {
	File string `json:"file"`
	Mode string `json:"mode"`
	Rows int    `json:"rows"`
}

type stateLine struct {
	Sent []int `json:"sent,omitempty"`
	rowResult
}

// openState reads the journal at path, or starts one. A journal of
// another file or mode is refused rather than mixed in. readOnly reads
// without creating or writing anything (a dry run).
func openState(path, fileKey, mode string, rows int, readOnly bool) (*stateFile, error) {
	want := stateHeader{File: fileKey, Mode: mode, Rows: rows}
	s := &stateFile{}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if readOnly {
			return s, nil
		}
		line, _ := json.Marshal(want) // plain fields always encode
		if err := os.WriteFile(path, append(line, '\n'), 0o600); err != nil {
			return nil, fmt.Errorf("create state file: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("read state file: %w", err)
	default:
		if err := s.read(path, data, want); err != nil {
			return nil, err
		}
	}
	if readOnly {
		return s, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open state file: %w", err)
	}
	s.f = f
	return s, nil
}

func (s *stateFile) read(path string, data []byte, want stateHeader) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var got stateHeader
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &got) != nil || got != want {
		return fmt.Errorf("state file %s belongs to another CSV file or mode (%s, %d rows): remove it or pass another --state", path, got.Mode, got.Rows)
	}
	done := make([]*rowResult, want.Rows)
	var sent [][]int
	for sc.Scan() {
		var l stateLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue // a line cut short by a stop mid-write: its row is sent again
		}
		switch {
		case len(l.Sent) > 0:
			sent = append(sent, l.Sent)
		case l.Row >= 1 && l.Row <= want.Rows && l.Outcome != "":
			r := l.rowResult
			done[r.Row-1] = &r
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read state file: %w", err)
	}
	for _, r := range done {
		if r != nil {
			s.done = append(s.done, r)
		}
	}
	for _, rows := range sent {
		if slices.ContainsFunc(rows, func(r int) bool { return r < 1 || r > want.Rows }) {
			continue // not this file's rows: the header check makes this a damaged line
		}
		if slices.ContainsFunc(rows, func(r int) bool { return done[r-1] == nil }) {
			s.pending = append(s.pending, rows)
		}
	}
	return nil
}

// sent records that rows are about to be sent in one batch.
func (s *stateFile) sent(rows []int) error { return s.append(stateLine{Sent: rows}) }

// record records a row's outcome.
func (s *stateFile) record(r *rowResult) error { return s.append(stateLine{rowResult: *r}) }

func (s *stateFile) append(l stateLine) error {
	if s == nil || s.f == nil {
		return nil
	}
	line, _ := json.Marshal(l) // plain fields always encode
	if _, err := s.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	return nil
}

// Close closes the journal.
func (s *stateFile) Close() error {
	if s == nil || s.f == nil {
		return nil
	}
	return s.f.Close()
}
