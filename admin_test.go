package main

// Tests of the admin routes: the token, deletion of a calibration and of a
// participant's, and the listing.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testAdminToken = "s3cret-token"

func adminRequest(method, target, token string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// calibrateAs stores the example calibration under id for user.
func calibrateAs(t *testing.T, s *testServer, id, user, remote string) {
	t.Helper()
	fields := exampleCalibFields(t)
	fields["file_name"] = `"` + id + `"`
	if user != "" {
		fields["user_id"] = `"` + user + `"`
	}
	if rec := s.do(calibRequestOf(t, fields), remote); rec.Code != 200 {
		t.Fatalf("calibrating %s: %d %s", id, rec.Code, rec.Body)
	}
}

// folderMentions lists the files of dir whose name or bytes hold needle.
func folderMentions(t *testing.T, dir, needle string) []string {
	t.Helper()
	var out []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if strings.Contains(e.Name(), needle) || bytes.Contains(data, []byte(needle)) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestAdminRoutesNeedTheToken(t *testing.T) {
	off := newTestServer(t, nil)
	if rec := off.do(adminRequest("GET", "/api/session/calibrations", testAdminToken), ""); rec.Code != 404 {
		t.Errorf("without ADMIN_TOKEN the listing answers %d, want 404 (no such route)", rec.Code)
	}
	if rec := off.do(adminRequest("DELETE", "/api/session/calibration/x", testAdminToken), ""); rec.Code != 404 {
		t.Errorf("without ADMIN_TOKEN deletion answers %d", rec.Code)
	}
	s := newTestServer(t, map[string]string{"ADMIN_TOKEN": testAdminToken})
	for _, token := range []string{"", "wrong", testAdminToken + "x", strings.ToUpper(testAdminToken)} {
		for _, r := range []*http.Request{adminRequest("GET", "/api/session/calibrations", token), adminRequest("DELETE", "/api/session/calibration/x", token)} {
			rec := s.do(r, "")
			var body errorBody
			decodeJSON(t, rec, &body)
			if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") == "" || body.Error == "" {
				t.Errorf("token %q: %d %v", token, rec.Code, rec.Header())
			}
		}
	}
	for i := 0; i < 300; i++ { // not limited per client (the defaults allow 50 an hour)
		if rec := s.do(adminRequest("GET", "/api/session/calibrations", testAdminToken), "192.0.2.1:1"); rec.Code != 200 {
			t.Fatalf("listing %d: %d", i, rec.Code)
		}
	}
}

func TestDeleteCalibration(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, map[string]string{"ADMIN_TOKEN": testAdminToken, "CALIBRATION_STORE": dir, "RATELIMIT_ENABLED": "false"})
	calibrateAs(t, s, "victim", "p1", "")
	calibrateAs(t, s, "other", "p2", "")
	batch := strings.Replace(readTestdata(t, "api/batch_request.json"), `"sample9full"`, `"victim"`, 1)
	if rec := s.do(batchRequestOf(batch), ""); rec.Code != 200 { // the model is cached now
		t.Fatal(rec.Code)
	}
	// Right after a save its record is still in the journal: the deletion
	// must remove it there too.
	if rec := s.do(adminRequest("DELETE", "/api/session/calibration/victim", testAdminToken), ""); rec.Code != 204 || rec.Body.Len() != 0 {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	if rec := s.do(batchRequestOf(batch), ""); rec.Code != 404 {
		t.Errorf("batch_predict after the deletion: %d", rec.Code)
	}
	if left := folderMentions(t, dir, "victim"); len(left) > 0 {
		t.Errorf("files still mention the deleted calibration: %v", left)
	}
	if rec := s.do(adminRequest("DELETE", "/api/session/calibration/victim", testAdminToken), ""); rec.Code != 404 {
		t.Errorf("deleting again: %d", rec.Code)
	}
	if _, err := s.store.Load("other"); err != nil {
		t.Errorf("the other calibration: %v", err)
	}
	// A restart (journal replay) does not bring it back.
	s.store.Close()
	again := newTestServer(t, map[string]string{"CALIBRATION_STORE": dir})
	if _, err := again.store.Load("victim"); err == nil {
		t.Error("the deleted calibration is back after a restart")
	}
}

func TestDeleteByUser(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, map[string]string{"ADMIN_TOKEN": testAdminToken, "CALIBRATION_STORE": dir, "RATELIMIT_ENABLED": "false"})
	calibrateAs(t, s, "a1", "alice", "")
	calibrateAs(t, s, "a2", "alice", "")
	calibrateAs(t, s, "b1", "bob", "")
	rec := s.do(adminRequest("DELETE", "/api/session/calibrations?user_id=alice", testAdminToken), "")
	var body deletedBody
	decodeJSON(t, rec, &body)
	if rec.Code != 200 || strings.Join(body.Deleted, ",") != "a1,a2" {
		t.Fatalf("%d %+v", rec.Code, body)
	}
	for _, id := range []string{"a1", "a2"} {
		if left := folderMentions(t, dir, id+"_"); len(left) > 0 {
			t.Errorf("%s left %v", id, left)
		}
	}
	if _, err := s.store.Load("b1"); err != nil {
		t.Errorf("bob's calibration: %v", err)
	}
	if rec := s.do(adminRequest("DELETE", "/api/session/calibrations", testAdminToken), ""); rec.Code != 400 {
		t.Errorf("without user_id: %d", rec.Code)
	}
}

func TestListCalibrations(t *testing.T) {
	s := newTestServer(t, map[string]string{"ADMIN_TOKEN": testAdminToken, "RATELIMIT_ENABLED": "false"})
	for _, id := range []string{"c", "a", "b"} {
		calibrateAs(t, s, id, "user-"+id, "")
	}
	var got []calibrationInfo
	after := ""
	for pages := 0; ; pages++ {
		rec := s.do(adminRequest("GET", "/api/session/calibrations?limit=2&after="+after, testAdminToken), "")
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if bytes.Contains(rec.Body.Bytes(), []byte("iris")) || bytes.Contains(rec.Body.Bytes(), []byte("point_x")) {
			t.Fatalf("the listing shows samples: %s", rec.Body)
		}
		var page listBody
		decodeJSON(t, rec, &page)
		got = append(got, page.Calibrations...)
		if page.Next == "" {
			break
		}
		after = page.Next
		if pages > 3 {
			t.Fatal("no end to the pages")
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d calibrations listed: %+v", len(got), got)
	}
	for i, id := range []string{"a", "b", "c"} {
		c := got[i]
		if c.ID != id || c.Rows != 180 || c.Model != "Linear Regression" || c.ScreenWidth != 1495 || c.ScreenHeight != 746 || c.UserID != "user-"+id || c.Created.IsZero() {
			t.Errorf("entry %d: %+v", i, c)
		}
	}
	raw, _ := json.Marshal(got[0])
	if strings.Contains(string(raw), "network") {
		t.Errorf("the listing shows the network: %s", raw)
	}
	if rec := s.do(adminRequest("GET", "/api/session/calibrations?limit=0", testAdminToken), ""); rec.Code != 400 {
		t.Errorf("limit=0: %d", rec.Code)
	}
}

// TestRetentionBlackBox, on the real binary with a one-second retention: a
// calibration stops being served once expired and its files go at the next
// sweep; one stored before a SIGKILL is gone after the restart.
func TestRetentionBlackBox(t *testing.T) {
	bin := e2eBinary(t)
	dir := t.TempDir()
	env := map[string]string{"CALIBRATION_STORE": dir, "CALIBRATION_RETENTION": "1s", "RATELIMIT_ENABLED": "false"}
	srv := startE2EServer(t, bin, env)
	client := e2eClient(t)
	fields := session9FullFields(t, "Linear Regression")
	if r, err := postCalibration(client, srv.base, fields, ""); err != nil || r.status != 200 {
		t.Fatalf("calibration: %d %v", r.status, err)
	}
	if r, _ := postBatch(client, srv.base, batch9FullBody(t), ""); r.status != 200 {
		t.Fatalf("batch before expiry: %d", r.status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, _ := postBatch(client, srv.base, batch9FullBody(t), "")
		left := folderMentions(t, dir, "9_full_")
		if r.status == 404 && len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after a 1 s retention: batch %d, files %v", r.status, left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fields["file_name"] = `"before_kill"`
	if r, err := postCalibration(client, srv.base, fields, ""); err != nil || r.status != 200 {
		t.Fatalf("calibration: %d %v", r.status, err)
	}
	srv.kill()
	time.Sleep(1100 * time.Millisecond) // past the retention while the server is down
	startE2EServer(t, bin, env)         // its sweep at start deletes the expired calibration
	deadline = time.Now().Add(10 * time.Second)
	for len(folderMentions(t, dir, "before_kill")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("files of an expired calibration still there 10 s after the restart: %v", folderMentions(t, dir, "before_kill"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
