package main

// Request bodies: the size limit, reading in chunks, what a failed read
// answers, and JSON object bodies.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// readChunked reads r to the end in chunks (512 bytes, doubling up to
// 64 KiB, none of them copied while reading) and returns one buffer of the
// exact size.
func readChunked(r io.Reader) ([]byte, error) {
	var chunks [][]byte
	total, size := 0, 512
	for {
		chunk := make([]byte, size)
		size = min(2*size, 64<<10)
		n, err := io.ReadFull(r, chunk)
		if n > 0 {
			chunks = append(chunks, chunk[:n])
			total += n
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

// readBodyOnce is the largest declared body readBody allocates before it
// arrives: a client declaring more gets memory only as its bytes come.
const readBodyOnce = 1 << 20

// readBody reads a request's body to the end. When the client declared
// its length (the server then delivers exactly that many bytes, and
// limitBody has refused lengths over the limit), up to readBodyOnce, it is
// read into one buffer of that size; otherwise in chunks, as readChunked
// does.
func readBody(r *http.Request) ([]byte, error) {
	return readBodyInto(r, nil)
}

// readBodyInto is readBody reading into buf's storage (a pooled buffer)
// when the declared length fits its capacity.
func readBodyInto(r *http.Request, buf []byte) ([]byte, error) {
	if r.ContentLength <= 0 || r.ContentLength > readBodyOnce {
		return readChunked(r.Body)
	}
	body := buf[:0]
	if int64(cap(body)) >= r.ContentLength {
		body = body[:r.ContentLength]
	} else {
		body = make([]byte, r.ContentLength)
	}
	n, err := io.ReadFull(r.Body, body)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return body[:n], nil // shorter than declared: what arrived, as readChunked would give
	}
	if err != nil {
		return nil, err
	}
	var probe [1]byte
	if m, _ := r.Body.Read(probe[:]); m > 0 { // longer than declared (only a Request built by hand can be)
		rest, err := readChunked(r.Body)
		if err != nil {
			return nil, err
		}
		return append(append(body, probe[:m]...), rest...), nil
	}
	return body, nil
}

// limitBody caps the request body at max bytes; reading past it fails with
// *http.MaxBytesError, which bodyError turns into 413.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("request body is %d bytes; the limit is %d", r.ContentLength, max)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// bodyError maps an error from reading the body to 413 or 400.
func bodyError(err error, what string) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body is over the %d-byte limit", mbe.Limit)}
	}
	return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf("%s: %v", what, err)}
}

// checkJSONContentType accepts a request without Content-Type or with a
// JSON one (application/json, anything+json); other types are 415.
func checkJSONContentType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &apiError{Status: http.StatusUnsupportedMediaType, Message: fmt.Sprintf("Content-Type must be application/json, got %q", ct)}
		}
	}
	return nil
}

// readJSONObject reads the body as a JSON object of raw members; what is
// names the request in the error.
func readJSONObject(r *http.Request, what string) (map[string]json.RawMessage, error) {
	if err := checkJSONContentType(r); err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, bodyError(err, "reading the body")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, &apiError{Status: http.StatusBadRequest, Message: "body must be a JSON object: " + what}
	}
	return obj, nil
}
