package main

import (
	"encoding/binary"
	"hash/crc32"
	"time"
)

// journalFileName is the store's write-ahead journal inside the data folder.
// A dot name keeps it apart from the calibration files.
const journalFileName = ".calibration-journal"

// journalMagic starts every journal record.
const journalMagic = "ECJ1"

// journalHeaderLen is the fixed part before a record's payload: the magic,
// the payload's length and its CRC-32C.
const journalHeaderLen = 12

// maxJournalPayload bounds one record when reading (a save is bounded by
// the request body limit long before this).
const maxJournalPayload = 1 << 30

var journalCRC = crc32.MakeTable(crc32.Castagnoli)

// journalRecord is one committed save: the two CSV files exactly as they
// are to be written.
type journalRecord struct {
	saved   time.Time
	id      string
	fixed   []byte
	predict []byte
}

// encodeJournalRecord returns the record of a save of id, with the fixed and
// predict CSV texts appended by the two functions (so they are encoded once,
// in place), and the record's view of those two texts.
//
// Layout, little-endian: "ECJ1" | payload length uint32 | CRC-32C of the
// payload uint32 | payload = save time (Unix ns) int64 | len(id) uint16 | id |
// len(fixed) uint32 | fixed | len(predict) uint32 | predict.
func encodeJournalRecord(saved time.Time, id string, fixed, predict func([]byte) []byte) (rec, fixedCSV, predictCSV []byte) {
	b := make([]byte, journalHeaderLen, 64<<10)
	copy(b, journalMagic)
	b = binary.LittleEndian.AppendUint64(b, uint64(saved.UnixNano()))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(id)))
	b = append(b, id...)

	lenAt := len(b)
	b = append(b, 0, 0, 0, 0)
	b = fixed(b)
	fixedCSV = b[lenAt+4:]
	binary.LittleEndian.PutUint32(b[lenAt:], uint32(len(fixedCSV)))

	lenAt = len(b)
	b = append(b, 0, 0, 0, 0)
	b = predict(b)
	predictCSV = b[lenAt+4:]
	binary.LittleEndian.PutUint32(b[lenAt:], uint32(len(predictCSV)))

	payload := b[journalHeaderLen:]
	binary.LittleEndian.PutUint32(b[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(payload, journalCRC))
	// Cap the views so that nothing appended to one runs into the other.
	return b, fixedCSV[:len(fixedCSV):len(fixedCSV)], predictCSV[:len(predictCSV):len(predictCSV)]
}

// parseJournal returns the records of a journal in order. It stops at the
// first record that is incomplete or fails its checksum: a save that was
// being appended when the process died, never acknowledged, and everything
// after it (there is nothing acknowledged after it: records are appended
// one at a time, each synced before the next).
func parseJournal(data []byte) []journalRecord {
	var out []journalRecord
	for len(data) >= journalHeaderLen && string(data[:4]) == journalMagic {
		n := binary.LittleEndian.Uint32(data[4:])
		if n > maxJournalPayload || uint64(len(data)-journalHeaderLen) < uint64(n) {
			break
		}
		payload := data[journalHeaderLen : journalHeaderLen+int(n)]
		if crc32.Checksum(payload, journalCRC) != binary.LittleEndian.Uint32(data[8:]) {
			break
		}
		r, ok := decodeJournalPayload(payload)
		if !ok {
			break
		}
		out = append(out, r)
		data = data[journalHeaderLen+int(n):]
	}
	return out
}

// decodeJournalPayload splits a checksummed payload into its fields.
func decodeJournalPayload(p []byte) (journalRecord, bool) {
	var r journalRecord
	if len(p) < 10 {
		return r, false
	}
	r.saved = time.Unix(0, int64(binary.LittleEndian.Uint64(p)))
	idLen := int(binary.LittleEndian.Uint16(p[8:]))
	p = p[10:]
	if len(p) < idLen {
		return r, false
	}
	r.id, p = string(p[:idLen]), p[idLen:]
	var ok bool
	if r.fixed, p, ok = cutLengthPrefixed(p); !ok {
		return r, false
	}
	if r.predict, p, ok = cutLengthPrefixed(p); !ok || len(p) != 0 {
		return r, false
	}
	return r, true
}

// cutLengthPrefixed splits a uint32-length-prefixed field off the front of p.
func cutLengthPrefixed(p []byte) (field, rest []byte, ok bool) {
	if len(p) < 4 {
		return nil, nil, false
	}
	n := binary.LittleEndian.Uint32(p)
	p = p[4:]
	if uint64(len(p)) < uint64(n) {
		return nil, nil, false
	}
	return p[:n], p[n:], true
}
