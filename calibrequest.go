package main

// The calib_validation request: the form (multipart or URL-encoded) whose
// every field is JSON text, decoded and checked field by field before any
// work starts.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
)

// calibRequest is a validated calib_validation request.
type calibRequest struct {
	id           string
	spec         modelSpec
	k            int
	cal          calibration
	fromRuxailab bool
	userID       json.RawMessage
	studyID      json.RawMessage
}

// formFields holds the first value of each field of a calib_validation
// form, as raw bytes.
type formFields map[string][]byte

// get returns the JSON value of field, trimmed; ok is false when absent.
func (f formFields) get(field string) (json.RawMessage, bool) {
	v, ok := f[field]
	return json.RawMessage(bytes.TrimSpace(v)), ok
}

// maxFormFields bounds how many fields a form may have.
const maxFormFields = 64

// readForm reads a multipart or URL-encoded form. A multipart body is read
// whole (its size is bounded by the body limit) and split where it lies:
// the fields are slices of it, in the simple layout every browser and HTTP
// library writes (simpleMultipartFields), or copies made by mime/multipart
// for anything else.
func readForm(r *http.Request) (formFields, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		if err := r.ParseForm(); err != nil {
			return nil, bodyError(err, "form could not be read")
		}
		fields := formFields{}
		for k, v := range r.PostForm {
			if len(v) > 0 {
				fields[k] = []byte(v[0])
			}
		}
		return fields, nil
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, bodyError(http.ErrMissingBoundary, "form could not be read")
	}
	body, err := readBody(r)
	if err != nil {
		return nil, bodyError(err, "form could not be read")
	}
	if fields, ok := simpleMultipartFields(body, boundary); ok {
		return fields, nil
	}
	return multipartFields(body, boundary)
}

// multipartFields splits a multipart/form-data body with mime/multipart:
// the first value of each named field, at most maxFormFields parts.
func multipartFields(body []byte, boundary string) (formFields, error) {
	fields := formFields{}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return fields, nil
		}
		if err != nil {
			return nil, bodyError(err, "form could not be read")
		}
		if n >= maxFormFields {
			return nil, &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf("the form has more than %d fields", maxFormFields)}
		}
		name := part.FormName()
		value, err := readChunked(part)
		part.Close()
		if err != nil {
			return nil, bodyError(err, "form could not be read")
		}
		if _, seen := fields[name]; !seen && name != "" {
			fields[name] = value
		}
	}
}

// simpleMultipartFields splits a multipart/form-data body laid out as
// browsers and HTTP libraries write it: no preamble; each delimiter line
// exactly "--boundary" and CRLF; each part with the one header
// `Content-Disposition: form-data; name="NAME"` (NAME printable ASCII
// without quote or backslash) then an empty line, and a value that does
// not start with "--boundary"; the close delimiter
// "--boundary--", optionally followed by CRLF, ending the body. The values
// are slices of body, the first of each name kept (as multipartFields
// keeps them). ok is false for any other layout, or more than
// maxFormFields parts, which multipartFields then reads.
func simpleMultipartFields(body []byte, boundary string) (fields formFields, ok bool) {
	const disposition = "Content-Disposition: form-data; name=\""
	delim := "--" + boundary
	if !bytes.HasPrefix(body, []byte(delim+"\r\n")) {
		return nil, false
	}
	next := []byte("\r\n" + delim)
	fields = formFields{}
	pos := len(delim) + 2
	for n := 0; n < maxFormFields; n++ {
		if !bytes.HasPrefix(body[pos:], []byte(disposition)) {
			return nil, false
		}
		pos += len(disposition)
		end := bytes.IndexByte(body[pos:], '"')
		if end < 0 {
			return nil, false
		}
		name := body[pos : pos+end]
		for _, c := range name {
			if c < 0x20 || c > 0x7e || c == '\\' {
				return nil, false
			}
		}
		pos += end + 1
		if !bytes.HasPrefix(body[pos:], []byte("\r\n\r\n")) {
			return nil, false
		}
		pos += 4
		if bytes.HasPrefix(body[pos:], []byte(delim)) { // mime/multipart may take it for a delimiter
			return nil, false
		}
		i := bytes.Index(body[pos:], next)
		if i < 0 {
			return nil, false
		}
		if _, seen := fields[string(name)]; !seen && len(name) > 0 {
			fields[string(name)] = body[pos : pos+i : pos+i]
		}
		pos += i + len(next)
		switch rest := body[pos:]; {
		case bytes.HasPrefix(rest, []byte("\r\n")):
			pos += 2
		case string(rest) == "--" || string(rest) == "--\r\n":
			return fields, true
		default:
			return nil, false
		}
	}
	return nil, false
}

// decodeFormJSON unmarshals the JSON text of a form field into v.
func decodeFormJSON(raw json.RawMessage, field, want string, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return badField(field, "must be JSON text holding %s (the front end sends JSON.stringify(value)); got %s", want, truncate(string(raw), 40))
	}
	return nil
}

// decodePoints parses a sample array; labelled arrays also need point_x/point_y.
func decodePoints(raw json.RawMessage, field string, labelled bool, lim inputLimits) ([]labelledSample, error) {
	keys := irisKeyList
	if labelled {
		keys = labelledKeys
	}
	arr, err := decodeSampleArray(raw, sampleSpec{field: field, keys: keys, maxLen: lim.maxCalibRows, maxAbs: lim.maxCoordinate})
	if err != nil {
		return nil, err
	}
	out := make([]labelledSample, len(arr.values))
	for i, v := range arr.values {
		out[i] = labelledSample{irisSample{v[0], v[1], v[2], v[3]}, v[4], v[5]}
	}
	return out, nil
}

// isFormContentType reports whether ct is one of the two form encodings.
func isFormContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "multipart/form-data" || mt == "application/x-www-form-urlencoded")
}

// decodeCalibRequest reads and validates a calib_validation form, field by
// field in the order below. Every check runs before any model work starts.
func decodeCalibRequest(r *http.Request, specs map[string]modelSpec, lim inputLimits) (calibRequest, error) {
	var req calibRequest
	ct := r.Header.Get("Content-Type")
	if !isFormContentType(ct) {
		return req, &apiError{Status: http.StatusUnsupportedMediaType, Message: fmt.Sprintf("Content-Type must be multipart/form-data or application/x-www-form-urlencoded, got %q", ct)}
	}
	form, err := readForm(r)
	if err != nil {
		return req, err
	}
	d := calibDecoder{form: form, lim: lim, req: &req}
	for _, decode := range []func() error{
		d.fileName,
		func() error { return d.model(specs) },
		d.screenSize,
		d.fixedPoints,
		d.calibPoints,
		d.k, // after the fixed points: its range depends on their number
		d.ruxailab,
	} {
		if err := decode(); err != nil {
			return req, err
		}
	}
	return req, nil
}

// calibDecoder decodes the fields of one calib_validation form into req.
type calibDecoder struct {
	form formFields
	lim  inputLimits
	req  *calibRequest
}

// required returns the JSON text of a field that must be present and not
// null, or a 400 naming it and what it is for.
func (d calibDecoder) required(field, what string) (json.RawMessage, error) {
	raw, ok := d.form.get(field)
	if !ok || string(raw) == "null" {
		return nil, badField(field, "is required: %s", what)
	}
	return raw, nil
}

// fileName: the id to store the calibration under.
func (d calibDecoder) fileName() error {
	raw, err := d.required("file_name", "the id to store the calibration under")
	if err != nil {
		return err
	}
	var name string
	if err := decodeFormJSON(raw, "file_name", "a string", &name); err != nil {
		return err
	}
	d.req.id, err = decodeID("file_name", name, d.lim)
	return err
}

// model: one of the served model names; Linear Regression when absent.
func (d calibDecoder) model(specs map[string]modelSpec) error {
	name := "Linear Regression"
	if raw, ok := d.form.get("model"); ok && string(raw) != "null" && len(raw) > 0 {
		if err := decodeFormJSON(raw, "model", "a string", &name); err != nil {
			return err
		}
	}
	spec, ok := specs[name]
	if !ok {
		return badField("model", "%v", unknownModelError(truncate(name, d.lim.maxStringLen), specs))
	}
	d.req.spec = spec
	d.req.cal.Meta.Model = spec.name
	return nil
}

// screenSize: screen_width and screen_height in CSS pixels.
func (d calibDecoder) screenSize() error {
	var err error
	w, _ := d.form.get("screen_width")
	if d.req.cal.ScreenWidth, err = parseScreenSize("screen_width", w, d.lim.maxScreenPx); err != nil {
		return err
	}
	h, _ := d.form.get("screen_height")
	d.req.cal.ScreenHeight, err = parseScreenSize("screen_height", h, d.lim.maxScreenPx)
	return err
}

// fixedPoints: the labelled samples, at least one.
func (d calibDecoder) fixedPoints() error {
	raw, err := d.required("fixed_circle_iris_points", "the labelled calibration samples")
	if err != nil {
		return err
	}
	if d.req.cal.Fixed, err = decodePoints(raw, "fixed_circle_iris_points", true, d.lim); err != nil {
		return err
	}
	if len(d.req.cal.Fixed) == 0 {
		return badField("fixed_circle_iris_points", "must not be empty")
	}
	return nil
}

// calibPoints: the unlabelled recording (it may be empty).
func (d calibDecoder) calibPoints() error {
	raw, err := d.required("calib_circle_iris_points", "the unlabelled recording (it may be an empty array)")
	if err != nil {
		return err
	}
	pts, err := decodePoints(raw, "calib_circle_iris_points", false, d.lim)
	if err != nil {
		return err
	}
	d.req.cal.Calib = make([]irisSample, len(pts))
	for i, p := range pts {
		d.req.cal.Calib[i] = p.irisSample
	}
	return nil
}

// k: the number of k-means clusters, a whole number (or numeric string)
// from 1 to the number of test rows.
func (d calibDecoder) k() error {
	raw, err := d.required("k", "the number of k-means clusters")
	if err != nil {
		return err
	}
	_, nTest := splitSizes(len(d.req.cal.Fixed))
	k, ok := parseNumberOrNumericString(raw)
	if !ok || k != math.Trunc(k) || k < 1 || k > float64(nTest) {
		return badField("k", "must be an integer from 1 to %d (the test rows of %d samples), got %s", nTest, len(d.req.cal.Fixed), truncate(string(raw), 40))
	}
	d.req.k = int(k)
	return nil
}

// ruxailab: from_ruxailab, and the user_id and study_id echoed to the
// webhook (strings, numbers or null; null when absent).
func (d calibDecoder) ruxailab() error {
	if raw, ok := d.form.get("from_ruxailab"); ok && string(raw) != "null" {
		if err := decodeFormJSON(raw, "from_ruxailab", "true or false", &d.req.fromRuxailab); err != nil {
			return err
		}
	}
	var err error
	if d.req.userID, err = d.idValue("user_id"); err != nil {
		return err
	}
	if d.req.studyID, err = d.idValue("study_id"); err != nil {
		return err
	}
	d.req.cal.Meta.UserID, d.req.cal.Meta.StudyID = idText(d.req.userID), idText(d.req.studyID)
	return nil
}

// idText is an id field's value as text: a string's characters, a number's
// JSON text, "" for null.
func idText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// idValue returns the JSON text of an optional string-or-number field, at
// most maxStringLen characters (a number counts as the text it was sent as).
func (d calibDecoder) idValue(field string) (json.RawMessage, error) {
	raw, ok := d.form.get(field)
	if !ok || len(raw) == 0 {
		return json.RawMessage("null"), nil
	}
	var v any
	if err := decodeFormJSON(raw, field, "a string or null", &v); err != nil {
		return nil, err
	}
	text := string(raw)
	switch v := v.(type) {
	case nil, float64:
	case string:
		text = v
	default:
		return nil, badField(field, "must be a string or null")
	}
	if err := checkStringLength(field, text, d.lim.maxStringLen); err != nil {
		return nil, err
	}
	return raw, nil
}
