package main

// The calibration store: a folder of the Python service's CSV files, each
// save committed by one synced journal append and written behind it; and
// the choice between it and Redis (CALIBRATION_STORE).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
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

// fileStore keeps calibrations in a folder in the Python service's format:
// <id>_fixed_train_data.csv (labelled rows plus the screen size on every
// row) and <id>_predict_train_data.csv (the unlabelled recording).
//
// A save is committed by writing its record after the last one in the
// folder's journal (.calibration-journal) and one fdatasync: the record
// holds the samples and the screen size behind a checksum. A background
// writer then writes the files in batches (the saves of writeBehindDelay,
// only the last of each id), each file to a temporary file that is synced
// and renamed into place (predict first, fixed last), and syncs the folder
// once per batch; until then Load serves the calibration from memory. When
// every record is in its files the journal is emptied, and given a synced
// runway of zeros that the next records overwrite. At start, the records a
// crash left in the journal are written to their files before anything is
// served, so an acknowledged save is never lost and a crash never leaves a
// half-written file: a torn record at the journal's end (a save that was
// never acknowledged) fails its checksum and is dropped. The saves not yet
// in their files are capped (maxQueuedBytes, maxJournalBytes): beyond the
// caps a save waits for the writer.
//
// The journal is held with an exclusive flock. A second server started on
// the same folder, or a platform without flock, runs without a journal:
// each save then writes and syncs its files before answering (slower, as
// durable). (Should the journal's holder crash with saves not yet in their
// files, its next start writes them even over a later save of the same id
// by that second server: file times cannot order the two, as the journal's
// own writer may write an older save after a newer one was committed.)
// Temporary files of crashed writes are removed at start.
type fileStore struct {
	dir       string
	retention time.Duration    // calibrations older than this are expired (0: kept)
	now       func() time.Time // the clock of save times and expiry
	maxID     int              // longest id whose files the folder's file system can name
	log       *slog.Logger
	locks     sync.Map // id → *sync.Mutex; serialises direct (journal-less) saves of an id

	journal  *os.File   // nil: no journal, saves write their files directly
	refusing error      // when set, every save fails with it (the journal could not be replayed)
	appendMu sync.Mutex // serialises journal appends and the journal's emptying

	mu          sync.Mutex // guards what follows
	cond        *sync.Cond // signalled when the queue changes or the store closes
	journalSize int64      // bytes in the journal; changed with appendMu and mu held
	seq         uint64     // last committed save
	pending     map[string]*pendingSave
	queue       []*pendingSave // committed saves not yet in their files, journal order
	queuedBytes int64
	closed      bool
	closing     chan struct{} // closed by Close: ends the writer's waits
	writerDone  chan struct{}

	maxQueuedBytes, maxJournalBytes int64
	backlogWait                     time.Duration

	// busy, when set, reports whether the server is computing; the
	// background writer then waits (at most writeBehindMaxDefer) so that
	// its file writes and syncs do not take cores from running fits.
	busy func() bool // guarded by mu

	runway []byte // journalRunway zero bytes (layRunway's)
}

// pendingSave is a committed save whose files are not yet written.
type pendingSave struct {
	seq    uint64
	id     string
	recLen int // bytes of its journal record
	cal    calibration
}

// Default caps on committed saves not yet in their files: beyond them a
// save waits for the background writer (back-pressure, bounded memory), at
// most backlogWait, then fails with errStoreBehind.
const (
	defaultMaxQueuedBytes  = 16 << 20
	defaultMaxJournalBytes = 64 << 20
	defaultBacklogWait     = 5 * time.Second
)

// errStoreBehind is returned by a save that found the background writer too
// far behind for too long (the disk failing or far too slow).
var errStoreBehind = errors.New("the calibration store is behind with writing calibrations to disk")

// errStoreClosed is returned by Save after Close.
var errStoreClosed = errors.New("the calibration store is shutting down")

// storeNameOverhead is how many bytes the store adds to an id in its
// longest file name: "." + id + "_predict_train_data.csv" + ".tmp-" and
// os.CreateTemp's random part (at most 10 digits).
const storeNameOverhead = 1 + len("_predict_train_data.csv") + len(".tmp-") + 10

// errIDTooLong is returned by Save for an id longer than MaxIDLength.
var errIDTooLong = errors.New("the id is too long for the calibration store's file names")

// MaxIDLength returns the longest id the store can save: its file names
// must fit the file system's limit (255 bytes on most).
func (s *fileStore) MaxIDLength() int { return s.maxID }

// staleTempAge is how old a temporary file must be before newFileStore
// removes it as the leftover of a crashed save (a live save takes
// milliseconds; the margin covers another server sharing the folder).
const staleTempAge = time.Minute

// newFileStore creates dir if it is missing, removes temporary files that
// crashed saves left behind, takes the journal and writes the saves a
// crash left in it. A journal that cannot be replayed stops start-up: its
// saves were acknowledged. log may be nil.
func newFileStore(dir string, log *slog.Logger) (*fileStore, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("calibration store %q: %w", dir, err)
	}
	leftovers, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*")) // .<id>_*_train_data.csv.tmp-*, .<id>_calibration.json.tmp-*
	if err != nil {
		return nil, err
	}
	for _, f := range leftovers {
		if fi, err := os.Stat(f); err == nil && time.Since(fi.ModTime()) > staleTempAge {
			os.Remove(f)
		}
	}
	s := &fileStore{
		dir: dir, now: time.Now, maxID: nameMax(dir) - storeNameOverhead, log: log, pending: map[string]*pendingSave{}, closing: make(chan struct{}), writerDone: make(chan struct{}),
		maxQueuedBytes: defaultMaxQueuedBytes, maxJournalBytes: defaultMaxJournalBytes, backlogWait: defaultBacklogWait,
		runway: make([]byte, journalRunway),
	}
	s.cond = sync.NewCond(&s.mu)
	j, err := s.openJournal()
	if err != nil {
		return nil, err
	}
	if j == nil {
		close(s.writerDone)
		return s, nil
	}
	s.journal = j
	go s.writeBehind()
	return s, nil
}

// openJournal opens and locks the journal, replays what it holds and
// empties it. It returns nil (no journal, with a log line) when the journal
// is locked by another process, flock is unavailable or the folder is not
// writable.
func (s *fileStore) openJournal() (*os.File, error) {
	path := filepath.Join(s.dir, journalFileName)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		s.log.Warn("calibration store without a journal: saves sync their files before answering", "dir", s.dir, "err", err)
		return nil, nil
	}
	if err := lockFileExclusive(f); err != nil {
		f.Close()
		s.log.Warn("calibration store without a journal: saves sync their files before answering", "dir", s.dir, "err", fmt.Errorf("locking %s: %w", journalFileName, err))
		return nil, nil
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading the calibration journal %s: %w", path, err)
	}
	if err := s.replay(parseJournalFile(data)); err != nil {
		// Neither written nor set aside: the journal stays as it is for the
		// next start, and no save is taken meanwhile (one would be replayed
		// over by the older record).
		f.Close()
		s.refusing = fmt.Errorf("the calibration journal could not be replayed at start: %w", err)
		s.log.Error("calibration store refuses saves: the journal could not be replayed at start nor its records set aside; stored calibrations are still served. Make the data folder writable (free space, permissions), then restart",
			"dir", s.dir, "err", err)
		return nil, nil
	}
	created := errors.Is(statErr, os.ErrNotExist)
	if len(data) > 0 || created {
		err := truncateSynced(f)
		if err == nil && created { // the journal's name must survive a crash too
			err = syncDir(s.dir)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("emptying the calibration journal %s: %w", path, err)
		}
	}
	if err := s.layRunway(f); err != nil {
		s.log.Warn("calibration journal: no zeroed runway (saves append, each sync commits the new size)", "err", err)
	}
	return f, nil
}

// journalRunway is how many zero bytes an empty journal is given, synced:
// the next records overwrite blocks that are already allocated and inside
// the file, so a save's fdatasync writes only their data, where a record
// that appends must also commit the file's new size (measured on the
// reference VM's disk, a 20 kB record: 0.33 ms against 0.45 to 0.55 ms).
// It holds about eight calibrations of 200 rows; records beyond it append.
const journalRunway = 128 << 10

// layRunway writes journalRunway zero bytes at the start of the empty
// journal f and syncs them. Zeros end a journal for parseJournal, so a
// crash at any point leaves only what a replay already ignores.
func (s *fileStore) layRunway(f *os.File) error {
	if _, err := f.WriteAt(s.runway, 0); err != nil {
		return err
	}
	return syncData(f)
}

// truncateSynced empties the journal f and syncs the new size.
func truncateSynced(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	return syncData(f)
}

// rejectedFileName keeps the journal records that could not be written to
// their files at start, in the journal's own format.
const rejectedFileName = journalFileName + ".rejected"

// replay writes the last record of each id to its files. A record that
// cannot be written (an id too long for the file system, a file in the
// way) is set aside in rejectedFileName, with an ERROR line saying how to
// retry it, so that one bad record never stops the server from starting.
// It fails only when a record can be neither written nor set aside.
func (s *fileStore) replay(recs []journalRecord) error {
	last := map[string]int{}
	for i, r := range recs {
		last[r.id] = i
	}
	for i, r := range recs {
		if last[r.id] != i {
			continue
		}
		err := s.writeFiles(r.id, r.cal)
		if err == nil {
			s.log.Info("calibration written from the journal", "id", r.id, "saved", r.saved)
			continue
		}
		if aerr := s.setAside(r); aerr != nil {
			return fmt.Errorf("calibration %q from the journal: %w; setting it aside: %w", r.id, err, aerr)
		}
		rejected, journal := filepath.Join(s.dir, rejectedFileName), filepath.Join(s.dir, journalFileName)
		s.log.Error("a calibration in the journal could not be written to its files; its record was set aside and the server starts without it",
			"id", r.id, "saved", r.saved, "err", err, "kept_in", rejected,
			"to_retry", fmt.Sprintf("fix the cause, stop the server, run: cat %s >> %s, then start it", rejected, journal))
	}
	return nil
}

// setAside appends r to rejectedFileName and syncs it.
func (s *fileStore) setAside(r journalRecord) error {
	path := filepath.Join(s.dir, rejectedFileName)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(encodeJournalRecord(r.saved, r.id, r.cal))
	if err == nil {
		err = syncData(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && errors.Is(statErr, os.ErrNotExist) {
		err = syncDir(s.dir)
	}
	return err
}

func (s *fileStore) fixedPath(id string) string {
	return filepath.Join(s.dir, id+"_fixed_train_data.csv")
}

func (s *fileStore) predictPath(id string) string {
	return filepath.Join(s.dir, id+"_predict_train_data.csv")
}

func (s *fileStore) metaPath(id string) string {
	return filepath.Join(s.dir, id+metaSuffix)
}

func (s *fileStore) lock(id string) func() {
	m, _ := s.locks.LoadOrStore(id, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// Save stores c under id, replacing what was there; when it returns nil the
// calibration survives a crash. With the journal it returns once the record
// is synced (one write, one fdatasync); without, once both files are.
func (s *fileStore) Save(id string, c calibration) error {
	if s.refusing != nil {
		return s.refusing
	}
	if len(id) > s.maxID || len(id) > math.MaxUint16 {
		return fmt.Errorf("%w: %d bytes, at most %d", errIDTooLong, len(id), s.maxID)
	}
	if c.Meta.Created.IsZero() {
		c.Meta.Created = s.now()
	}
	if s.journal == nil {
		defer s.lock(id)()
		return s.writeFiles(id, c)
	}
	rec := encodeJournalRecord(c.Meta.Created, id, c)

	if err := s.waitForBacklog(); err != nil {
		return err
	}

	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.mu.Lock()
	at, closed := s.journalSize, s.closed
	s.mu.Unlock()
	if closed {
		return errStoreClosed
	}
	// A failed write or sync leaves journalSize where it was: the next
	// record overwrites the remains, and whatever of them is left after it
	// starts inside a record, where parseJournal stops. (A save whose sync
	// failed may still have reached the disk and be replayed after a crash,
	// as fsync failures go; it is the client's own data.)
	if _, err := s.journal.WriteAt(rec, at); err != nil {
		return fmt.Errorf("writing calibration %q to the journal: %w", id, err)
	}
	if err := syncData(s.journal); err != nil {
		return fmt.Errorf("syncing the journal for calibration %q: %w", id, err)
	}
	// A journal removed from the folder (the folder deleted or replaced
	// under the server) takes writes that no restart would find.
	if err := s.journalInPlace(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.journalSize = at + int64(len(rec))
	s.seq++
	p := &pendingSave{seq: s.seq, id: id, recLen: len(rec), cal: c}
	s.pending[id] = p
	s.queue = append(s.queue, p)
	s.queuedBytes += int64(len(rec))
	s.cond.Broadcast()
	return nil
}

// waitForBacklog waits while the saves not yet in their files exceed the
// caps, at most backlogWait.
func (s *fileStore) waitForBacklog() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.waitWhile(func() bool {
		return len(s.queue) > 0 && (s.queuedBytes > s.maxQueuedBytes || s.journalSize > s.maxJournalBytes)
	}); err != nil {
		return err
	}
	return s.closedErr()
}

// waitWhile waits, at most backlogWait, while busy() holds and the store
// is open: nil once busy() is false, errStoreBehind when the time is up,
// errStoreClosed when the store closed first. s.mu is held.
func (s *fileStore) waitWhile(busy func() bool) error {
	if !busy() {
		return nil
	}
	deadline := time.Now().Add(s.backlogWait)
	wake := time.AfterFunc(s.backlogWait, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer wake.Stop()
	for busy() {
		if s.closed {
			return errStoreClosed
		}
		if !time.Now().Before(deadline) {
			return errStoreBehind
		}
		s.cond.Wait()
	}
	return nil
}

// closedErr is errStoreClosed after Close, else nil; s.mu is held.
func (s *fileStore) closedErr() error {
	if s.closed {
		return errStoreClosed
	}
	return nil
}

// journalInPlace checks that the open journal is still the folder's.
func (s *fileStore) journalInPlace() error {
	open, err := s.journal.Stat()
	if err != nil {
		return fmt.Errorf("the calibration journal: %w", err)
	}
	named, err := os.Stat(filepath.Join(s.dir, journalFileName))
	if err != nil || !os.SameFile(open, named) {
		return fmt.Errorf("the calibration journal is no longer in %s (was the folder removed or replaced?): %w", s.dir, errors.Join(err, os.ErrNotExist))
	}
	return nil
}

// writeBehindDelay is how long the background writer lets committed saves
// gather before writing them: a save replaced within it is never written,
// and one folder sync serves the whole batch.
const writeBehindDelay = 10 * time.Millisecond

// writeBehindMaxDefer is the longest the background writer waits, after
// writeBehindDelay, for the server to stop computing (fileStore.busy);
// writeBehindPoll is how often it looks.
const (
	writeBehindMaxDefer = time.Second
	writeBehindPoll     = 2 * time.Millisecond
)

// writeBehind writes committed saves to their files in batches: the saves
// queued after a short delay, only the last of each id, then one folder
// sync. It empties the journal whenever nothing is left to write. A failed
// write is retried with a growing pause. After Close it writes what is
// queued without delay and gives up on a failure (the journal keeps the
// save for the next start).
func (s *fileStore) writeBehind() {
	defer close(s.writerDone)
	pause := writeBehindDelay
	for {
		s.mu.Lock()
		emptied := false // once per idle spell: a failing truncate is not retried in a loop
		for len(s.queue) == 0 && !s.closed {
			if s.journalSize > 0 && !emptied {
				emptied = true
				s.mu.Unlock()
				s.emptyJournal()
				s.mu.Lock()
				continue
			}
			s.cond.Wait()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return
		}
		hurry := s.closed || s.queuedBytes > s.maxQueuedBytes/2
		s.mu.Unlock()
		if !hurry {
			select {
			case <-time.After(pause):
			case <-s.closing:
			}
			s.waitUntilQuiet()
		}

		s.mu.Lock()
		batch := slices.Clone(s.queue) // only this goroutine removes from the queue's front
		var current []*pendingSave
		for _, p := range batch {
			if s.pending[p.id] == p {
				current = append(current, p)
			}
		}
		closed := s.closed
		s.mu.Unlock()

		failed := s.writeBatch(current)

		s.mu.Lock()
		var kept []*pendingSave
		for _, p := range batch {
			if failed[p] != nil {
				kept = append(kept, p)
				continue
			}
			s.queuedBytes -= int64(p.recLen)
			if s.pending[p.id] == p {
				delete(s.pending, p.id)
			}
		}
		s.queue = append(kept, s.queue[len(batch):]...)
		s.cond.Broadcast()
		s.mu.Unlock()

		if len(failed) == 0 {
			pause = writeBehindDelay
			continue
		}
		for p, err := range failed {
			s.log.Error("calibration committed to the journal but not yet written to its files; retrying", "id", p.id, "retry_in", pause.String(), "err", err)
		}
		if closed {
			return
		}
		pause = min(2*pause, 10*time.Second)
	}
}

// writeBatch writes the files of saves (at most one per id) one calibration
// after the other, then syncs the folder once. It returns the saves that
// failed. (Writing several calibrations at once makes the requests' journal
// syncs wait longer behind the writer's: measured 1.45 ms against 1.0 ms per
// LR request when every request has its own id.)
func (s *fileStore) writeBatch(saves []*pendingSave) map[*pendingSave]error {
	failed := map[*pendingSave]error{}
	for _, p := range saves {
		if err := s.placeFiles(p.id, p.cal); err != nil {
			failed[p] = err
		}
	}
	if len(saves) > len(failed) {
		if err := syncDir(s.dir); err != nil {
			for _, p := range saves {
				failed[p] = errors.Join(failed[p], err)
			}
		}
	}
	return failed
}

// emptyJournal truncates the journal if every save in it is in its files,
// then lays a new runway (layRunway) for the next records. The truncation
// need not be synced: should a crash undo it, the replayed records are the
// ones already in the files, and a later record's fdatasync makes the
// truncation durable with it. The runway's zeros are written before any
// new record (appendMu is held) and synced after, unless a save's own
// sync has already done it.
func (s *fileStore) emptyJournal() {
	s.appendMu.Lock()
	s.mu.Lock()
	if len(s.queue) > 0 || s.journalSize == 0 {
		s.mu.Unlock()
		s.appendMu.Unlock()
		return
	}
	// On failure the journal keeps growing: writing new records over old
	// ones of the same length could leave whole old records after them,
	// which a replay would apply last.
	if err := s.journal.Truncate(0); err != nil {
		s.mu.Unlock()
		s.appendMu.Unlock()
		s.log.Error("emptying the calibration journal", "err", err)
		return
	}
	s.journalSize = 0
	s.cond.Broadcast()
	s.mu.Unlock()
	_, err := s.journal.WriteAt(s.runway, 0)
	s.appendMu.Unlock()
	if err == nil {
		err = syncData(s.journal)
	}
	if err != nil {
		s.log.Warn("calibration journal: no zeroed runway (saves append, each sync commits the new size)", "err", err)
	}
}

// Close writes the saves still queued and releases the journal. Saves after
// Close fail. A save that cannot be written stays in the journal for the
// next start, and Close reports it.
func (s *fileStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.cond.Broadcast()
	s.mu.Unlock()
	<-s.writerDone
	if s.journal == nil {
		return nil
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.mu.Lock()
	left := len(s.queue)
	s.mu.Unlock()
	var err error
	if left == 0 {
		err = truncateSynced(s.journal)
	} else {
		err = fmt.Errorf("%d calibrations are in the journal but not in their files; they will be written at the next start", left)
	}
	if cerr := s.journal.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFiles writes the files of id atomically and durably: placeFiles,
// then the folder synced.
func (s *fileStore) writeFiles(id string, c calibration) error {
	if err := s.placeFiles(id, c); err != nil {
		return err
	}
	return syncDir(s.dir)
}

// placeFiles writes the files of c — the predict CSV, the metadata and the
// fixed CSV — to temporary files, synced in parallel (one journal commit can
// then serve them all), and renames them into place in that order: the
// fixed file, whose presence makes the calibration, last. The renames are
// durable once the folder is synced.
func (s *fileStore) placeFiles(id string, c calibration) error {
	files := []struct {
		path string
		data []byte
	}{
		{s.predictPath(id), encodeIrisCSV(c.Calib)},
		{s.metaPath(id), encodeMeta(c)},
		{s.fixedPath(id), encodeFixedCSV(c)},
	}
	tmps := make([]string, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tmps[i], errs[i] = writeTempSynced(files[i].path, files[i].data)
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	for i := 0; err == nil && i < len(files); i++ {
		if err = os.Rename(tmps[i], files[i].path); err != nil {
			err = fmt.Errorf("renaming calibration %q into place: %w", id, err)
		}
	}
	if err != nil {
		for _, tmp := range tmps {
			if tmp != "" {
				os.Remove(tmp)
			}
		}
	}
	return err
}

// deferWritesWhile makes the background writer wait while busy reports the
// server computing (see waitUntilQuiet).
func (s *fileStore) deferWritesWhile(busy func() bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy = busy
}

// waitUntilQuiet waits while the server is computing (busy), at most
// writeBehindMaxDefer, and not once the store closes or the backlog passes
// half its cap. The saves are safe in the journal meanwhile.
func (s *fileStore) waitUntilQuiet() {
	for waited := time.Duration(0); waited < writeBehindMaxDefer; waited += writeBehindPoll {
		s.mu.Lock()
		busy, hurry := s.busy, s.closed || s.queuedBytes > s.maxQueuedBytes/2
		s.mu.Unlock()
		if busy == nil || hurry || !busy() {
			return
		}
		select {
		case <-time.After(writeBehindPoll):
		case <-s.closing:
			return
		}
	}
}

// pendingOf returns the committed save of id not yet in its files, or nil.
func (s *fileStore) pendingOf(id string) *pendingSave {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending[id]
}

// Load reads the calibration stored under id; the predict and metadata
// files are optional (a calibration without metadata was created when its
// fixed file was written). An expired calibration is not found.
func (s *fileStore) Load(id string) (calibration, error) {
	if p := s.pendingOf(id); p != nil {
		c := p.cal
		c.Fixed, c.Calib = slices.Clone(c.Fixed), slices.Clone(c.Calib)
		return c, s.expiredErr(id, c.Meta.Created)
	}
	raw, err := os.ReadFile(s.fixedPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return calibration{}, fmt.Errorf("%w: %q", errCalibrationNotFound, id)
	}
	if err != nil {
		return calibration{}, readError(id, err)
	}
	c, err := parseFixedCSV(raw)
	if err != nil {
		return calibration{}, &unusableError{id: id, reason: "its stored file is damaged: " + err.Error(), err: err}
	}
	if raw, err := os.ReadFile(s.predictPath(id)); err == nil {
		if rows, err := parseIrisCSV(raw); err == nil {
			c.Calib = rows
		}
	}
	if c.Meta, err = s.fileMeta(id); err != nil {
		return calibration{}, err
	}
	return c, s.expiredErr(id, c.Meta.Created)
}

// fileMeta reads the metadata file of id; without one (a calibration the
// Python service wrote) Created is the fixed file's modification time.
func (s *fileStore) fileMeta(id string) (calibrationMeta, error) {
	if raw, err := os.ReadFile(s.metaPath(id)); err == nil {
		if m, err := parseMeta(raw); err == nil && !m.Created.IsZero() {
			return m, nil
		}
	}
	fi, err := os.Stat(s.fixedPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return calibrationMeta{}, fmt.Errorf("%w: %q", errCalibrationNotFound, id)
	}
	if err != nil {
		return calibrationMeta{}, readError(id, err)
	}
	return calibrationMeta{Created: fi.ModTime()}, nil
}

// Version returns a value that changes whenever the calibration of id is
// replaced: the journal sequence of a save not yet in its files, else the
// fixed file's inode, size and modification time. An expired calibration
// is not found.
func (s *fileStore) Version(id string) (string, error) {
	if p := s.pendingOf(id); p != nil {
		return fmt.Sprintf("journal-%d", p.seq), s.expiredErr(id, p.cal.Meta.Created)
	}
	fi, err := os.Stat(s.fixedPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %q", errCalibrationNotFound, id)
	}
	if err != nil {
		return "", err
	}
	if s.retention > 0 {
		m, err := s.fileMeta(id)
		if err != nil {
			return "", err
		}
		if err := s.expiredErr(id, m.Created); err != nil {
			return "", err
		}
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

// unusableError reports a stored calibration that cannot be used; reason
// says what is wrong in words that hold no server path.
type unusableError struct {
	id, reason string
	err        error
}

func (e *unusableError) Error() string {
	return fmt.Sprintf("calibration %q cannot be used: %s", e.id, e.reason)
}
func (e *unusableError) Unwrap() error { return e.err }

// readError classifies a failure to read the stored file of id: a lack of
// resources (file descriptors, memory) passes again, so it is the store's
// failure; anything else (a directory in the file's place, no permission,
// an I/O error) makes that calibration unusable.
func readError(id string, err error) error {
	for _, transient := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.EAGAIN, syscall.EINTR, syscall.ENOBUFS} {
		if errors.Is(err, transient) {
			return fmt.Errorf("reading calibration %q: %w", id, err)
		}
	}
	return &unusableError{id: id, reason: "its stored file cannot be read (" + pathless(err).Error() + ")", err: err}
}

// calibrationStore is where calibrations live between calib_validation and
// batch_predict.
type calibrationStore interface {
	Save(id string, c calibration) error
	Load(id string) (calibration, error)
	// Version changes whenever the calibration of id is replaced.
	Version(id string) (string, error)
	// MaxIDLength is the longest id Save accepts.
	MaxIDLength() int
	// Meta describes the calibration of id.
	Meta(id string) (calibrationMeta, error)
	// Delete removes the calibration of id everywhere it lives, durably.
	Delete(id string) error
	// DeleteUser deletes every calibration of a user_id and returns their ids.
	DeleteUser(userID string) ([]string, error)
	// List returns up to limit calibrations after the id after, in id
	// order, and the id to continue after ("" at the end).
	List(after string, limit int) ([]calibrationInfo, string, error)
}

// Count returns how many calibrations the store holds: the ids with a
// fixed file, and those committed to the journal but not yet written.
func (s *fileStore) Count() (int, error) {
	ids, err := s.ids()
	return len(ids), err
}

// Ready reports whether the store can take and serve calibrations now: it
// refuses no save, its folder allows writing by its permission bits (as
// they would apply to a process without privileges, so that a folder made
// read-only shows even to root), and a probe file can be written, read back
// and removed. The error says what is wrong without naming server paths.
func (s *fileStore) Ready() error {
	if s.refusing != nil {
		return errors.New("the store refuses saves: its journal could not be replayed at start")
	}
	fi, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("the data folder cannot be opened (%w)", pathless(err))
	}
	if !fi.IsDir() {
		return errors.New("the data folder is not a folder")
	}
	if !permitsWrite(fi) {
		return fmt.Errorf("the data folder is not writable (mode %v)", fi.Mode().Perm())
	}
	probe := filepath.Join(s.dir, ".ready-probe")
	want := []byte(strconv.FormatInt(time.Now().UnixNano(), 10))
	if err := os.WriteFile(probe, want, 0o644); err != nil {
		return fmt.Errorf("writing to the data folder failed (%w)", pathless(err))
	}
	got, err := os.ReadFile(probe)
	os.Remove(probe)
	if err != nil {
		return fmt.Errorf("reading from the data folder failed (%w)", pathless(err))
	}
	if !bytes.Equal(got, want) {
		return errors.New("the data folder did not give back what was written to it")
	}
	return nil
}

// pathless is err without the path of an *os.PathError.
func pathless(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// registerMetrics exposes the calibrations stored and the journal's backlog.
func (s *fileStore) registerMetrics(m *metricsRegistry) {
	m.gauge("eyetrack_calibrations_stored", "Calibrations the store holds.", func() []metricSample {
		n, err := s.Count()
		if err != nil {
			return nil
		}
		return []metricSample{{value: float64(n)}}
	})
	m.gauge("eyetrack_journal_backlog", "Saves committed to the journal and not yet written to their files (saves, and bytes of their records).", func() []metricSample {
		s.mu.Lock()
		defer s.mu.Unlock()
		return []metricSample{{labels: []string{"unit", "saves"}, value: float64(len(s.queue))}, {labels: []string{"unit", "bytes"}, value: float64(s.queuedBytes)}}
	})
	m.gauge("eyetrack_journal_bytes", "Bytes in the store's journal.", func() []metricSample {
		s.mu.Lock()
		defer s.mu.Unlock()
		return []metricSample{{value: float64(s.journalSize)}}
	})
}

// parseStoreSettings checks CALIBRATION_STORE (a folder or a Redis URL)
// and CALIBRATION_TTL (for Redis only).
func parseStoreSettings(c *config, ttl string) error {
	var err error
	if c.calibrationTTL, err = time.ParseDuration(strings.TrimSpace(ttl)); err != nil || c.calibrationTTL < 0 {
		return fmt.Errorf("CALIBRATION_TTL %q is not a duration such as 720h (0: never expire)", ttl)
	}
	switch {
	case isRedisURL(c.storeDir):
		if _, err := parseRedisURL(c.storeDir); err != nil {
			return fmt.Errorf("CALIBRATION_STORE: %w", err)
		}
	case strings.Contains(c.storeDir, "://"):
		return fmt.Errorf("CALIBRATION_STORE %q: want a folder or a redis:// or rediss:// URL", redactURL(c.storeDir))
	case c.calibrationTTL > 0:
		return fmt.Errorf("CALIBRATION_TTL %q: calibrations expire only in a Redis store (CALIBRATION_STORE=redis://...)", ttl)
	}
	return nil
}

// redisTTL is the time to live of calibrations in a Redis store: the
// shorter of CALIBRATION_TTL and CALIBRATION_RETENTION (0: none).
func redisTTL(c config) time.Duration {
	switch {
	case c.calibrationTTL == 0:
		return c.retention
	case c.retention == 0:
		return c.calibrationTTL
	}
	return min(c.calibrationTTL, c.retention)
}

// closableStore is a calibration store the server closes at shutdown.
type closableStore interface {
	calibrationStore
	Close() error
}

// openCalibrationStore opens CALIBRATION_STORE: a Redis URL (with ttl, the
// calibrations' time to live, 0 for none) or a folder.
func openCalibrationStore(where string, ttl time.Duration, log *slog.Logger) (closableStore, error) {
	if isRedisURL(where) {
		o, err := parseRedisURL(where)
		if err != nil {
			return nil, fmt.Errorf("CALIBRATION_STORE: %w", err)
		}
		return newRedisStore(o, ttl, log)
	}
	return newFileStore(where, log)
}
