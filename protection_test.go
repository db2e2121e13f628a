package main

// Tests of overwrite protection: with PROTECT_CALIBRATIONS another network
// gets 409 and the calibration stays as it was; without it the Python
// service's replace-on-same-id behaviour holds.

import (
	"testing"
)

func TestProtectedCalibrations(t *testing.T) {
	s := newTestServer(t, map[string]string{"PROTECT_CALIBRATIONS": "true", "RATELIMIT_ENABLED": "false"})
	calibrateAs(t, s, "study7", "", "198.51.100.7:1")
	before, err := s.store.Load("study7")
	if err != nil {
		t.Fatal(err)
	}
	fields := exampleCalibFields(t)
	fields["file_name"] = `"study7"`
	fields["screen_width"] = "1000"
	rec := s.do(calibRequestOf(t, fields), "203.0.113.9:1")
	var body errorBody
	decodeJSON(t, rec, &body)
	if rec.Code != 409 || body.Field != "file_name" {
		t.Fatalf("another network: %d %+v", rec.Code, body)
	}
	after, err := s.store.Load("study7")
	if err != nil || after.ScreenWidth != before.ScreenWidth || !after.Meta.Created.Equal(before.Meta.Created) {
		t.Errorf("the calibration changed: %v %v", after.ScreenWidth, err)
	}
	// The same /24 may replace it (a participant whose address changed
	// within the lab's network).
	if rec := s.do(calibRequestOf(t, fields), "198.51.100.200:1"); rec.Code != 200 {
		t.Errorf("same network: %d %s", rec.Code, rec.Body)
	}
	if c, _ := s.store.Load("study7"); c.ScreenWidth != 1000 || c.Meta.Network != "198.51.100.0/24" {
		t.Errorf("after the replacement: width %v network %q", c.ScreenWidth, c.Meta.Network)
	}

	open := newTestServer(t, map[string]string{"RATELIMIT_ENABLED": "false"})
	calibrateAs(t, open, "study7", "", "198.51.100.7:1")
	if rec := open.do(calibRequestOf(t, fields), "203.0.113.9:1"); rec.Code != 200 {
		t.Errorf("without protection another network replaces: %d", rec.Code)
	}
}
