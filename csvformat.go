package main

// The Python service's CSV files: <id>_fixed_train_data.csv (labelled rows
// and the screen size) and <id>_predict_train_data.csv, written and read.

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// fixedHeader and irisHeader are the Python service's CSV headers.
var (
	fixedHeader = []string{"left_iris_x", "left_iris_y", "right_iris_x", "right_iris_y", "point_x", "point_y", "screen_height", "screen_width"}
	irisHeader  = fixedHeader[:4]
)

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

// encodeFixedCSV returns the text of a <id>_fixed_train_data.csv.
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

// encodeIrisCSV returns the text of a <id>_predict_train_data.csv.
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
			if err != nil || !isFinite(v) {
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
