package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// errCalibrationNotFound is returned by a store for an id it does not hold.
var errCalibrationNotFound = errors.New("calibration not found")

// fixedHeader and irisHeader are the Python service's CSV headers.
var (
	fixedHeader = []string{"left_iris_x", "left_iris_y", "right_iris_x", "right_iris_y", "point_x", "point_y", "screen_height", "screen_width"}
	irisHeader  = fixedHeader[:4]
)

// fileStore keeps calibrations in a folder in the Python service's format:
// <id>_fixed_train_data.csv (labelled rows plus the screen size on every
// row) and <id>_predict_train_data.csv (the unlabelled recording).
//
// Writes go to temporary files that are synced to disk and renamed into
// place, the predict file first and the fixed file last, then the folder is
// synced. A crash therefore leaves either the old or the new fixed file,
// never a partial one; batch_predict reads only the fixed file. (Two renames
// cannot be one atomic step: a crash between them leaves a predict file
// newer than its fixed file; the predict recording is stored, never used in
// the maths.) Saves of one id are serialised so that concurrent requests end
// with one whole calibration. Temporary files of crashed saves are removed
// at start.
type fileStore struct {
	dir   string
	locks sync.Map // id → *sync.Mutex
}

// staleTempAge is how old a temporary file must be before newFileStore
// removes it as the leftover of a crashed save (a live save takes
// milliseconds; the margin covers another server sharing the folder).
const staleTempAge = time.Minute

// newFileStore creates dir if it is missing and removes temporary files
// that crashed saves left behind.
func newFileStore(dir string) (*fileStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("calibration store %q: %w", dir, err)
	}
	leftovers, err := filepath.Glob(filepath.Join(dir, ".*_train_data.csv.tmp-*"))
	if err != nil {
		return nil, err
	}
	for _, f := range leftovers {
		if fi, err := os.Stat(f); err == nil && time.Since(fi.ModTime()) > staleTempAge {
			os.Remove(f)
		}
	}
	return &fileStore{dir: dir}, nil
}

func (s *fileStore) fixedPath(id string) string {
	return filepath.Join(s.dir, id+"_fixed_train_data.csv")
}

func (s *fileStore) predictPath(id string) string {
	return filepath.Join(s.dir, id+"_predict_train_data.csv")
}

func (s *fileStore) lock(id string) func() {
	m, _ := s.locks.LoadOrStore(id, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// Save stores c under id, replacing what was there. The two temporary
// files are written and synced in parallel (one journal commit can then
// serve both), renamed predict first and fixed last, and the folder synced.
func (s *fileStore) Save(id string, c calibration) error {
	defer s.lock(id)()
	fixed, predict := s.fixedPath(id), s.predictPath(id)
	var predictTmp string
	predictErr := make(chan error, 1)
	go func() {
		var err error
		predictTmp, err = writeTempSynced(predict, encodeIrisCSV(c.Calib))
		predictErr <- err
	}()
	fixedTmp, err := writeTempSynced(fixed, encodeFixedCSV(c))
	if perr := <-predictErr; err == nil {
		err = perr
	}
	if err == nil {
		if err = os.Rename(predictTmp, predict); err == nil {
			err = os.Rename(fixedTmp, fixed)
		}
		if err != nil {
			err = fmt.Errorf("renaming calibration %q into place: %w", id, err)
		}
	}
	if err != nil {
		for _, tmp := range []string{predictTmp, fixedTmp} {
			if tmp != "" {
				os.Remove(tmp)
			}
		}
		return err
	}
	return syncDir(s.dir)
}

// Load reads the calibration stored under id; the predict file is optional.
func (s *fileStore) Load(id string) (calibration, error) {
	raw, err := os.ReadFile(s.fixedPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return calibration{}, fmt.Errorf("%w: %q", errCalibrationNotFound, id)
	}
	if err != nil {
		return calibration{}, fmt.Errorf("reading calibration %q: %w", id, err)
	}
	c, err := parseFixedCSV(raw)
	if err != nil {
		return calibration{}, fmt.Errorf("calibration %q: %w", id, err)
	}
	if raw, err := os.ReadFile(s.predictPath(id)); err == nil {
		if rows, err := parseIrisCSV(raw); err == nil {
			c.Calib = rows
		}
	}
	return c, nil
}

// Version returns a value that changes whenever the fixed file of id is
// replaced (its inode, size and modification time), for cache invalidation.
func (s *fileStore) Version(id string) (string, error) {
	fi, err := os.Stat(s.fixedPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %q", errCalibrationNotFound, id)
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d-%d-%d", fileInode(fi), fi.Size(), fi.ModTime().UnixNano()), nil
}

// writeTempSynced writes data to a new temporary file beside path and
// syncs it to disk; it returns the temporary file's name. Nothing is left
// behind on failure.
func writeTempSynced(path string, data []byte) (tmp string, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("creating temporary file for %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return "", fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err = f.Chmod(0o644); err != nil { // CreateTemp makes 0600; stored files are readable like the Python service's
		return "", fmt.Errorf("chmod %s: %w", filepath.Base(path), err)
	}
	if err = syncData(f); err != nil {
		return "", fmt.Errorf("syncing %s: %w", filepath.Base(path), err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("closing %s: %w", filepath.Base(path), err)
	}
	return f.Name(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}

// appendCSVFloat appends v as the Python service wrote it: the shortest
// text that parses back to the same float, integral values with ".0".
func appendCSVFloat(b []byte, v float64) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	if !bytes.ContainsAny(b[start:], ".eEn") { // integral (not NaN/Inf, which never reach the store)
		b = append(b, ".0"...)
	}
	return b
}

func encodeFixedCSV(c calibration) []byte {
	b := make([]byte, 0, 128*(len(c.Fixed)+1))
	b = append(b, strings.Join(fixedHeader, ",")...)
	b = append(b, '\n')
	for _, r := range c.Fixed {
		for _, v := range [...]float64{r.LeftX, r.LeftY, r.RightX, r.RightY, r.PointX, r.PointY, c.ScreenHeight, c.ScreenWidth} {
			b = appendCSVFloat(b, v)
			b = append(b, ',')
		}
		b[len(b)-1] = '\n'
	}
	return b
}

func encodeIrisCSV(rows []irisSample) []byte {
	b := make([]byte, 0, 80*(len(rows)+1))
	b = append(b, strings.Join(irisHeader, ",")...)
	b = append(b, '\n')
	for _, r := range rows {
		for _, v := range [...]float64{r.LeftX, r.LeftY, r.RightX, r.RightY} {
			b = appendCSVFloat(b, v)
			b = append(b, ',')
		}
		b[len(b)-1] = '\n'
	}
	return b
}

// csvTable is a parsed CSV: its header and rows of numbers.
type csvTable struct {
	col  map[string]int
	rows [][]float64
}

// parseNumericCSV reads a CSV of numbers with a header line. Line ends may be
// \n, \r\n or \r\r\n and blank lines are skipped, as the Python service's
// files need. Every required column must be present and every value a
// finite number.
func parseNumericCSV(raw []byte, required []string) (csvTable, error) {
	text := strings.ReplaceAll(string(raw), "\r", "\n")
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return csvTable{}, errors.New("empty CSV")
	}
	if err != nil {
		return csvTable{}, fmt.Errorf("CSV header: %w", err)
	}
	header = slices.Clone(header) // ReuseRecord would overwrite it with the next row
	t := csvTable{col: map[string]int{}}
	for i, h := range header {
		t.col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, name := range required {
		if _, ok := t.col[name]; !ok {
			return csvTable{}, fmt.Errorf("CSV has no column %q", name)
		}
	}
	width := len(header)
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return csvTable{}, fmt.Errorf("CSV: %w", err)
		}
		if len(rec) != width {
			return csvTable{}, fmt.Errorf("CSV record %d has %d fields, the header %d", len(t.rows)+1, len(rec), width)
		}
		row := make([]float64, width)
		for i, f := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return csvTable{}, fmt.Errorf("CSV record %d, column %q: %q is not a finite number", len(t.rows)+1, header[i], f)
			}
			row[i] = v
		}
		t.rows = append(t.rows, row)
	}
	return t, nil
}

// get returns the value of column name in row i, or def when the column is absent.
func (t csvTable) get(i int, name string, def float64) float64 {
	if c, ok := t.col[name]; ok {
		return t.rows[i][c]
	}
	return def
}

// parseFixedCSV reads a <id>_fixed_train_data.csv. Files without the screen
// columns (older Python service files) load with a zero screen size.
func parseFixedCSV(raw []byte) (calibration, error) {
	t, err := parseNumericCSV(raw, fixedHeader[:6])
	if err != nil {
		return calibration{}, err
	}
	if len(t.rows) == 0 {
		return calibration{}, errors.New("CSV has no data rows")
	}
	c := calibration{Fixed: make([]labelledSample, len(t.rows))}
	for i := range t.rows {
		c.Fixed[i] = labelledSample{
			irisSample: irisSample{t.get(i, "left_iris_x", 0), t.get(i, "left_iris_y", 0), t.get(i, "right_iris_x", 0), t.get(i, "right_iris_y", 0)},
			PointX:     t.get(i, "point_x", 0), PointY: t.get(i, "point_y", 0),
		}
	}
	c.ScreenHeight = t.get(0, "screen_height", 0)
	c.ScreenWidth = t.get(0, "screen_width", 0)
	return c, nil
}

// parseIrisCSV reads a <id>_predict_train_data.csv.
func parseIrisCSV(raw []byte) ([]irisSample, error) {
	t, err := parseNumericCSV(raw, irisHeader)
	if err != nil {
		return nil, err
	}
	out := make([]irisSample, len(t.rows))
	for i := range t.rows {
		out[i] = irisSample{t.get(i, "left_iris_x", 0), t.get(i, "left_iris_y", 0), t.get(i, "right_iris_x", 0), t.get(i, "right_iris_y", 0)}
	}
	return out, nil
}

// calibrationStore is where calibrations live between calib_validation and
// batch_predict.
type calibrationStore interface {
	Save(id string, c calibration) error
	Load(id string) (calibration, error)
	// Version changes whenever the calibration of id is replaced.
	Version(id string) (string, error)
}

// storeError maps a store failure to an API error: an unknown id is 404, a
// full disk 507, anything else 503 (the store is not usable right now).
func storeError(field string, err error) error {
	switch {
	case errors.Is(err, errCalibrationNotFound):
		return &apiError{Status: http.StatusNotFound, Field: field, Message: "no calibration is stored under this id"}
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &apiError{Status: http.StatusInsufficientStorage, Message: "the calibration store is full: " + err.Error()}
	default:
		return &apiError{Status: http.StatusServiceUnavailable, Message: "the calibration store failed: " + err.Error()}
	}
}

// sanitizeID turns a file_name into a calibration id as the Python service
// did: the part after the last / or \, then only [A-Za-z0-9_.-] kept. An
// id that is then empty, "." or ".." is refused.
func sanitizeID(name string) (string, error) {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' {
			b = append(b, c)
		}
	}
	switch s := string(b); s {
	case "", ".", "..":
		return "", fmt.Errorf("%q leaves no usable id once reduced to letters, digits, '_', '.' and '-'", name)
	default:
		return s, nil
	}
}
