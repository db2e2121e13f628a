package main

// The store's write-ahead journal: the record format (samples as float64
// bits behind a CRC-32C) and its reader.

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"time"
)

// journalFileName is the store's write-ahead journal inside the data folder.
// A dot name keeps it apart from the calibration files.
const journalFileName = ".calibration-journal"

// journalMagic starts every journal record without metadata, and
// journalMetaMagic those whose payload ends with the calibration's
// metadata (its model, user and study ids and network).
const (
	journalMagic     = "ECJ1"
	journalMetaMagic = "ECJ2"
)

// journalHeaderLen is the fixed part before a record's payload: the magic,
// the payload's length and its CRC-32C.
const journalHeaderLen = 12

// maxJournalPayload bounds one record when reading (a save is bounded by
// the request body limit long before this).
const maxJournalPayload = 1 << 30

var journalCRC = crc32.MakeTable(crc32.Castagnoli)

// journalRecord is one committed save.
type journalRecord struct {
	saved time.Time
	id    string
	cal   calibration
}

// Row widths in the record: a labelled sample is 6 float64s, an unlabelled
// one 4.
const (
	journalFixedRow = 6 * 8
	journalCalibRow = 4 * 8
)

// encodeJournalRecord returns the record of a save of c under id. The
// samples are stored as the float64 bits they are (cheap to encode, exact
// to read back); the CSV text is made when the files are written.
//
// Layout, little-endian: "ECJ1" | payload length uint32 | CRC-32C of the
// payload uint32 | payload = save time (Unix ns) int64 | len(id) uint16 |
// id | screen width, height float64 | rows uint32 | rows × (left x, left
// y, right x, right y, point x, point y) | rows uint32 | rows × (left x,
// left y, right x, right y). An "ECJ2" record's payload goes on with the
// metadata: model, user id, study id and network, each as a uint16 length
// and its bytes; a calibration without any is written as "ECJ1". The save
// time is the metadata's Created.
func encodeJournalRecord(saved time.Time, id string, c calibration) []byte {
	meta := [...]string{c.Meta.Model, c.Meta.UserID, c.Meta.StudyID, c.Meta.Network}
	n := journalHeaderLen + 8 + 2 + len(id) + 16 + 4 + journalFixedRow*len(c.Fixed) + 4 + journalCalibRow*len(c.Calib)
	magic := journalMagic
	if meta != [4]string{} {
		magic = journalMetaMagic
		for _, m := range meta {
			n += 2 + len(m)
		}
	}
	b := make([]byte, journalHeaderLen, n)
	copy(b, magic)
	le := binary.LittleEndian
	f64 := func(v float64) { b = le.AppendUint64(b, math.Float64bits(v)) }
	iris := func(r irisSample) {
		for _, v := range [...]float64{r.LeftX, r.LeftY, r.RightX, r.RightY} {
			f64(v)
		}
	}
	b = le.AppendUint64(b, uint64(saved.UnixNano()))
	b = le.AppendUint16(b, uint16(len(id)))
	b = append(b, id...)
	f64(c.ScreenWidth)
	f64(c.ScreenHeight)
	b = le.AppendUint32(b, uint32(len(c.Fixed)))
	for _, r := range c.Fixed {
		iris(r.irisSample)
		f64(r.PointX)
		f64(r.PointY)
	}
	b = le.AppendUint32(b, uint32(len(c.Calib)))
	for _, r := range c.Calib {
		iris(r)
	}
	if magic == journalMetaMagic {
		for _, m := range meta {
			m = m[:min(len(m), math.MaxUint16)]
			b = le.AppendUint16(b, uint16(len(m)))
			b = append(b, m...)
		}
	}
	payload := b[journalHeaderLen:]
	le.PutUint32(b[4:], uint32(len(payload)))
	le.PutUint32(b[8:], crc32.Checksum(payload, journalCRC))
	return b
}

// parseJournal returns the records of a journal in order. It stops at the
// first record that is incomplete or fails its checksum: a save that was
// being appended when the process died, never acknowledged, and everything
// after it (there is nothing acknowledged after it: records are appended
// one at a time, each synced before the next).
func parseJournal(data []byte) []journalRecord {
	out, _ := parseJournalPrefix(data)
	return out
}

// parseJournalPrefix is parseJournal, also returning how many bytes the
// records it returns take.
func parseJournalPrefix(data []byte) ([]journalRecord, int) {
	var out []journalRecord
	used := 0
	for len(data) >= journalHeaderLen && (string(data[:4]) == journalMagic || string(data[:4]) == journalMetaMagic) {
		n := binary.LittleEndian.Uint32(data[4:])
		if n > maxJournalPayload || uint64(len(data)-journalHeaderLen) < uint64(n) {
			break
		}
		payload := data[journalHeaderLen : journalHeaderLen+int(n)]
		if crc32.Checksum(payload, journalCRC) != binary.LittleEndian.Uint32(data[8:]) {
			break
		}
		r, ok := decodeJournalPayload(payload, string(data[:4]) == journalMetaMagic)
		if !ok {
			break
		}
		out = append(out, r)
		data = data[journalHeaderLen+int(n):]
		used += journalHeaderLen + int(n)
	}
	return out, used
}

// parseJournalFile returns the records of the journal file's contents: its
// records, up to the zeros of the runway they were written over, then any
// records appended after those zeros (by an operator retrying records set
// aside, as the log tells them to, to a journal a crash left with its
// runway). The server itself never writes a record after zeros.
func parseJournalFile(data []byte) []journalRecord {
	out, used := parseJournalPrefix(data)
	rest := data[used:]
	if tail := bytes.TrimLeft(rest, "\x00"); len(tail) < len(rest) && len(tail) > 0 {
		out = append(out, parseJournal(tail)...)
	}
	return out
}

// journalReader reads a checksummed payload field by field; a read past
// the end sets ok to false.
type journalReader struct {
	p  []byte
	ok bool
}

func (r *journalReader) take(n int) []byte {
	if !r.ok || n < 0 || len(r.p) < n {
		r.ok = false
		return nil
	}
	b := r.p[:n]
	r.p = r.p[n:]
	return b
}

// decodeJournalPayload splits a checksummed payload into its fields (with
// the metadata at its end when withMeta).
func decodeJournalPayload(p []byte, withMeta bool) (journalRecord, bool) {
	var rec journalRecord
	r := journalReader{p: p, ok: true}
	le := binary.LittleEndian
	u64 := func() uint64 {
		if b := r.take(8); b != nil {
			return le.Uint64(b)
		}
		return 0
	}
	f64 := func() float64 { return math.Float64frombits(u64()) }
	count := func(width int) int {
		b := r.take(4)
		if b == nil {
			return 0
		}
		n := int(le.Uint32(b))
		if n > len(r.p)/width {
			r.ok = false
			return 0
		}
		return n
	}
	rec.saved = time.Unix(0, int64(u64()))
	if b := r.take(2); b != nil {
		rec.id = string(r.take(int(le.Uint16(b))))
	}
	rec.cal.ScreenWidth, rec.cal.ScreenHeight = f64(), f64()
	rec.cal.Fixed = make([]labelledSample, count(journalFixedRow))
	for i := range rec.cal.Fixed {
		rec.cal.Fixed[i] = labelledSample{irisSample{f64(), f64(), f64(), f64()}, f64(), f64()}
	}
	rec.cal.Calib = make([]irisSample, count(journalCalibRow))
	for i := range rec.cal.Calib {
		rec.cal.Calib[i] = irisSample{f64(), f64(), f64(), f64()}
	}
	rec.cal.Meta.Created = rec.saved
	if withMeta {
		for _, dst := range []*string{&rec.cal.Meta.Model, &rec.cal.Meta.UserID, &rec.cal.Meta.StudyID, &rec.cal.Meta.Network} {
			if b := r.take(2); b != nil {
				*dst = string(r.take(int(le.Uint16(b))))
			}
		}
		// An all-empty metadata is written as "ECJ1": anything else here is
		// not a record this encoder wrote.
		if rec.cal.Meta == (calibrationMeta{Created: rec.saved}) {
			return rec, false
		}
	}
	return rec, r.ok && len(r.p) == 0
}
