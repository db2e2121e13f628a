package main

// Participants' data in the folder store: a calibration's metadata, the
// listing for operators, deletion everywhere it lives (files, journal,
// records set aside), and retention.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// calibrationInfo is what the listing shows of a calibration (no samples).
type calibrationInfo struct {
	ID           string    `json:"id"`
	Created      time.Time `json:"created"`
	Rows         int       `json:"rows"`
	Model        string    `json:"model,omitempty"`
	ScreenWidth  float64   `json:"screen_width"`
	ScreenHeight float64   `json:"screen_height"`
	UserID       string    `json:"user_id,omitempty"`
	StudyID      string    `json:"study_id,omitempty"`
}

// expiredErr is errCalibrationNotFound for a calibration created longer
// than the retention ago, else nil.
func (s *fileStore) expiredErr(id string, created time.Time) error {
	if s.retention > 0 && !created.IsZero() && s.now().Sub(created) > s.retention {
		return fmt.Errorf("%w: %q expired", errCalibrationNotFound, id)
	}
	return nil
}

// Meta returns the metadata of the calibration of id.
func (s *fileStore) Meta(id string) (calibrationMeta, error) {
	if p := s.pendingOf(id); p != nil {
		return p.cal.Meta, s.expiredErr(id, p.cal.Meta.Created)
	}
	m, err := s.fileMeta(id)
	if err != nil {
		return m, err
	}
	return m, s.expiredErr(id, m.Created)
}

// ids returns every id the store holds (expired ones included), sorted.
func (s *fileStore) ids() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	const suffix = "_fixed_train_data.csv"
	seen := map[string]bool{}
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, suffix) && !strings.HasPrefix(name, ".") {
			seen[strings.TrimSuffix(name, suffix)] = true
		}
	}
	s.mu.Lock()
	for id := range s.pending {
		seen[id] = true
	}
	s.mu.Unlock()
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// infoOf describes a calibration for the listing (no samples).
func infoOf(id string, c calibration) calibrationInfo {
	return calibrationInfo{
		ID: id, Created: c.Meta.Created.UTC(), Rows: len(c.Fixed), Model: c.Meta.Model,
		ScreenWidth: c.ScreenWidth, ScreenHeight: c.ScreenHeight, UserID: c.Meta.UserID, StudyID: c.Meta.StudyID,
	}
}

// listPage is the listing's page of the sorted ids: up to limit of those
// after the id after that load, and the id to continue after ("" at the
// end). Calibrations that fail to load (expired, damaged) are left out.
func listPage(ids []string, after string, limit int, load func(id string) (calibration, error)) ([]calibrationInfo, string) {
	start, _ := slices.BinarySearch(ids, after)
	if start < len(ids) && ids[start] == after {
		start++
	}
	var out []calibrationInfo
	for _, id := range ids[start:] {
		if len(out) == limit {
			return out, out[len(out)-1].ID
		}
		if c, err := load(id); err == nil {
			out = append(out, infoOf(id, c))
		}
	}
	return out, ""
}

// List returns up to limit calibrations whose ids sort after the given one,
// in id order, and the id to continue after ("" at the end).
func (s *fileStore) List(after string, limit int) ([]calibrationInfo, string, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, "", err
	}
	page, next := listPage(ids, after, limit, s.Load)
	return page, next, nil
}

// Delete removes the calibration of id everywhere it lives, durably, before
// it returns: its files, any record of it in the journal (the journal is
// emptied once the background writer has put every queued save in its
// files) and in the records set aside. errCalibrationNotFound when there is
// none (an expired one is still deleted).
func (s *fileStore) Delete(id string) error {
	if s.journal == nil {
		defer s.lock(id)()
		return s.removeFiles(id)
	}
	s.appendMu.Lock() // no save is appended meanwhile
	defer s.appendMu.Unlock()
	if err := s.waitQueueEmpty(); err != nil {
		return err
	}
	if err := truncateSynced(s.journal); err != nil {
		return fmt.Errorf("emptying the calibration journal: %w", err)
	}
	s.mu.Lock()
	s.journalSize = 0
	s.mu.Unlock()
	if err := s.dropSetAside(id); err != nil {
		return err
	}
	return s.removeFiles(id)
}

// waitQueueEmpty waits, at most backlogWait, until every committed save is
// in its files. s.appendMu is held, so nothing new is queued.
func (s *fileStore) waitQueueEmpty() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitWhile(func() bool { return len(s.queue) > 0 })
}

// removeFiles removes the files of id (and leftovers of its crashed writes)
// and syncs the folder.
func (s *fileStore) removeFiles(id string) error {
	found := false
	for _, path := range []string{s.fixedPath(id), s.predictPath(id), s.metaPath(id)} {
		err := os.Remove(path)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("deleting calibration %q: %w", id, err)
		}
	}
	for _, suffix := range []string{"_fixed_train_data.csv", "_predict_train_data.csv", metaSuffix} {
		leftovers, _ := filepath.Glob(filepath.Join(s.dir, "."+escapeGlob(id)+suffix+".tmp-*"))
		for _, f := range leftovers {
			os.Remove(f)
		}
	}
	if !found {
		return fmt.Errorf("%w: %q", errCalibrationNotFound, id)
	}
	return syncDir(s.dir)
}

// escapeGlob quotes the characters filepath.Match treats specially.
func escapeGlob(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
}

// dropSetAside rewrites the records set aside at start without those of id.
func (s *fileStore) dropSetAside(id string) error {
	path := filepath.Join(s.dir, rejectedFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	recs := parseJournal(data)
	var kept []byte
	for _, r := range recs {
		if r.id != id {
			kept = append(kept, encodeJournalRecord(r.saved, r.id, r.cal)...)
		}
	}
	if len(kept) == len(data) {
		return nil
	}
	tmp, err := writeTempSynced(path, kept)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("removing calibration %q from the records set aside: %w", id, err)
	}
	return syncDir(s.dir)
}

// DeleteUser deletes every calibration whose user_id is userID (expired
// ones included) and returns their ids.
func (s *fileStore) DeleteUser(userID string) ([]string, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	return deleteUserOf(ids, userID, s.Meta, s.Delete)
}

// deleteUserOf deletes, among ids, those whose metadata names userID (a
// calibration not found but whose metadata was read, as an expired one, is
// deleted too), and returns their ids.
func deleteUserOf(ids []string, userID string, meta func(string) (calibrationMeta, error), del func(string) error) ([]string, error) {
	var deleted []string
	for _, id := range ids {
		m, err := meta(id)
		if (err != nil && !errors.Is(err, errCalibrationNotFound)) || m.UserID != userID {
			continue
		}
		if err := del(id); err != nil && !errors.Is(err, errCalibrationNotFound) {
			return deleted, err
		}
		deleted = append(deleted, id)
	}
	return deleted, nil
}

// sweepExpired deletes every calibration older than the retention and
// returns how many.
func (s *fileStore) sweepExpired() (int, error) {
	if s.retention <= 0 {
		return 0, nil
	}
	ids, err := s.ids()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if _, err := s.Meta(id); err == nil || !errors.Is(err, errCalibrationNotFound) {
			continue // not expired (or unreadable: left for an operator)
		}
		if err := s.Delete(id); err == nil {
			n++
		}
	}
	return n, nil
}

// runRetention sweeps expired calibrations at start and then every quarter
// of the retention (at least every second, at most every hour) until ctx
// ends.
func (s *fileStore) runRetention(ctx context.Context) {
	if s.retention <= 0 {
		return
	}
	every := min(max(s.retention/4, time.Second), time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.sweepExpired(); err != nil {
			s.log.Error("retention sweep", "err", err)
		} else if n > 0 {
			s.log.Info("expired calibrations deleted", "count", n, "retention", s.retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
