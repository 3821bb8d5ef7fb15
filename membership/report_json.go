package membership

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// ReportJSON returns rep, the answer of a removal call made with g, as
// json.Marshal encodes it, from the encoding the removal log stored
// (logged) with the hash its receipt got from the commit added: the
// report is encoded once, not again for the answer (80 KB for an S4
// offboarding, 0.35 ms of CPU). It says false when there is no such
// encoding (a dry run, a call not logged) or it is not of rep: the
// stored one ends with rep's open receipt, the last field a Report
// encodes, and nothing changes a report after it is logged but its
// receipt's hash (completeReceipts).
func ReportJSON(g *Guard, rep *Report) ([]byte, bool) {
	if g == nil || rep == nil || rep.Receipt == nil || len(g.result) == 0 {
		return nil, false
	}
	open := `"receipt":{"event_id":` + strconv.FormatInt(rep.Receipt.EventID, 10) + `}}`
	if !bytes.HasSuffix(g.result, []byte(open)) {
		return nil, false
	}
	if rep.Receipt.Hash == "" {
		return g.result, true
	}
	hash, err := json.Marshal(rep.Receipt.Hash)
	if err != nil {
		return nil, false
	}
	out := make([]byte, 0, len(g.result)+len(hash)+len(`,"hash":`))
	out = append(out, g.result[:len(g.result)-2]...)
	out = append(out, `,"hash":`...)
	out = append(out, hash...)
	return append(out, "}}"...), true
}
